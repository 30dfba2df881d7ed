import {
  type ChatChunk,
  type ChatMessage,
  type ChatModel,
  ChatModelError,
  type ChatRequest,
  type ChatStreamChunk,
  type ChatToolRequest,
} from '@somaagent/ports';
import type {
  GbnfJsonSchema,
  Llama,
  LlamaContext,
  LlamaContextSequence,
  LlamaGrammarEvaluationState,
  LlamaModel,
  Token,
} from 'node-llama-cpp';
import { chatPromptTokenizer } from './chatPromptTokens';
import {
  flattenToolMessages,
  type ToolAnswerEvent,
  ToolAnswerParser,
  toGrammarSchema,
  toolAnswerSchema,
  toolCallIds,
  toolSystemPrompt,
  validateChatTools,
} from './chatTools';
import { StreamSlots } from './StreamSlots';

export interface LocalLlamaChatModelOptions {
  /** A GGUF file, or a function producing one on first use (e.g. generating soma-tiny). */
  modelPath: string | (() => string | Promise<string>);
  /** The name requests must send as `model`. */
  modelName: string;
  /** Tokens each sequence holds (prompt + answer). @default 4096 */
  contextSize?: number;
  /**
   * Generations run at once: each gets its own sequence of one llama.cpp context, evaluated in
   * the same batches (as llama-server's slots are); further requests wait, first come first
   * served. @default 2
   */
  parallel?: number;
  /**
   * CPU threads per evaluation. ggml's threads spin-wait for each other, so on busy shared cores
   * more threads can be far slower: soma-tiny streams ~1,000 tokens/s on 1 thread and 40–150 on
   * 2 (2 cores shared with other work). Raise it for real, larger models on idle cores.
   * @default 1
   */
  threads?: number;
}

interface Engine {
  llama: Llama;
  model: LlamaModel;
  context: LlamaContext;
  /** Renders a chat with the model's own chat template (tokenizer.chat_template). */
  render: (messages: ChatMessage[]) => Token[];
  /** A fresh grammar state that holds the output to a JSON Schema (node-llama-cpp's subset). */
  grammarFor: (schema: unknown) => Promise<LlamaGrammarEvaluationState>;
}

/**
 * llama.cpp in-process through node-llama-cpp: the embedded default engine. Loads the GGUF on
 * first use (CPU build; the GPU builds are not installed), renders messages with the model's
 * chat template, streams deltas as tokens are sampled, stops on an end-of-generation token
 * (`stop`), after `maxTokens` or at the end of the context (`length`), or when the signal aborts
 * (`cancelled`, checked between tokens). Usage counts are the engine's own tokens: the rendered
 * prompt's token count and the number of tokens sampled.
 *
 * Tools: the model is told its tools in a system message and, unless `toolChoice` is `none`,
 * sampled under a grammar made from the answer schema (see toolAnswerSchema): `required` or a
 * named tool can only yield calls whose arguments fit the tools' schemas (the subset the
 * grammar holds, see toGrammarSchema), so even the untrained soma-tiny calls tools validly.
 */
export class LocalLlamaChatModel implements ChatModel {
  readonly kind = 'local-llama';
  private engine?: Promise<Engine>;
  /** Sequences of the context not in use; `slots` guarantees one is here for every holder. */
  private readonly free: LlamaContextSequence[] = [];
  private readonly slots: StreamSlots;
  private disposed = false;

  constructor(private readonly options: LocalLlamaChatModelOptions) {
    this.slots = new StreamSlots(options.parallel ?? 2);
  }

  /** Loads the engine and model now instead of on the first request. */
  load(): Promise<void> {
    return this.start().then(() => undefined);
  }

  private start(): Promise<Engine> {
    this.engine ??= this.open().catch((error) => {
      this.engine = undefined;
      throw error instanceof ChatModelError
        ? error
        : new ChatModelError(`local model could not load: ${(error as Error).message}`, false);
    });
    return this.engine;
  }

  private async open(): Promise<Engine> {
    const { contextSize = 4096, threads = 1 } = this.options;
    const parallel = this.slots.size;
    // Loaded here only: the native addon costs ~1 s and ~30 MB, paid by LOCAL users alone.
    const { getLlama, LlamaLogLevel, LlamaGrammarEvaluationState } = await import('node-llama-cpp');
    const path =
      typeof this.options.modelPath === 'string' ? this.options.modelPath : await this.options.modelPath();
    // gpu: false: the CPU build is the one installed; build 'never': no cmake at run time.
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
    const context = await model.createContext({ contextSize, sequences: parallel, threads });
    for (let i = 0; i < parallel; i++) this.free.push(context.getSequence());
    const render = await chatPromptTokenizer(model, path).catch((error: Error) => {
      throw new ChatModelError(error.message, false);
    });
    const grammarFor = async (schema: unknown) => {
      const grammar = await llama
        .createGrammarForJsonSchema(toGrammarSchema(schema) as Readonly<GbnfJsonSchema> & { const: string })
        .catch((error: Error) => {
          throw new ChatModelError(
            `the local engine cannot make a grammar of these tools: ${error.message}`,
            false,
          );
        });
      return new LlamaGrammarEvaluationState({ model, grammar });
    };
    return { llama, model, context, render, grammarFor };
  }

  stream(request: ChatRequest): AsyncIterable<ChatChunk> {
    // Without tools no toolCall piece can come.
    return this.streamWithTools({ ...request, tools: undefined }) as AsyncIterable<ChatChunk>;
  }

  async *streamWithTools(request: ChatToolRequest): AsyncIterable<ChatStreamChunk> {
    if (this.disposed) throw new ChatModelError('local model is closed', false);
    if (request.model !== this.options.modelName)
      throw new ChatModelError(
        `the local engine serves "${this.options.modelName}", not "${request.model}"`,
        false,
      );
    if (request.signal?.aborted) {
      yield { type: 'usage', promptTokens: 0, completionTokens: 0, source: 'engine' };
      yield { type: 'finish', reason: 'cancelled' };
      return;
    }
    const tools = request.tools?.length ? request.tools : undefined;
    if (request.tools) validateChatTools(request);
    const choice = request.toolChoice ?? 'auto';
    const { model, render, grammarFor } = await this.start();
    const prompt = render(
      tools ? flattenToolMessages(request.messages, toolSystemPrompt(tools, choice)) : request.messages,
    );
    const grammarEvaluationState =
      tools && choice !== 'none'
        ? await grammarFor(toolAnswerSchema(tools, choice, request.parallelToolCalls ?? true))
        : undefined;
    // Under the grammar the text is a tool answer: it streams as `response` text and tool calls.
    const answer = grammarEvaluationState ? new ToolAnswerParser() : undefined;
    const idOf = toolCallIds();
    const chunksOf = (events: ToolAnswerEvent[]): ChatStreamChunk[] =>
      events.map((e) =>
        e.type === 'text'
          ? { type: 'delta', text: e.text }
          : {
              type: 'toolCall',
              index: e.index,
              id: idOf(e.index),
              ...(e.name !== undefined ? { name: e.name } : {}),
              argumentsDelta: e.argumentsDelta,
            },
      );
    const release = await this.slots.acquire(request.signal);
    if (!release) {
      // Cancelled while waiting for a sequence: nothing was evaluated.
      yield { type: 'usage', promptTokens: 0, completionTokens: 0, source: 'engine' };
      yield { type: 'finish', reason: 'cancelled' };
      return;
    }
    const sequence = this.free.pop()!;
    try {
      const room = sequence.contextSize - prompt.length;
      if (room <= 0)
        throw new ChatModelError(
          `the prompt has ${prompt.length} tokens; the local context holds ${sequence.contextSize}`,
          false,
        );
      await sequence.clearHistory();
      const limit = Math.min(request.maxTokens, room);
      let completionTokens = 0;
      let finish: 'stop' | 'length' | 'cancelled' | undefined;
      // Bytes of one character can span tokens: text is held back until it decodes whole.
      const emitted: Token[] = [];
      let pending: Token[] = [];
      const iterator = sequence.evaluate(prompt, {
        ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
        ...(grammarEvaluationState ? { grammarEvaluationState } : {}),
      });
      // Tokens whose text was delivered (a cancelled answer is billed for these).
      let delivered = 0;
      try {
        for await (const token of iterator) {
          if (request.signal?.aborted) {
            finish = 'cancelled';
            break;
          }
          completionTokens++;
          if (model.isEogToken(token)) {
            finish = 'stop';
            break;
          }
          pending.push(token);
          const text = model.detokenize(pending, false, emitted);
          if (!text.endsWith('\uFFFD') || pending.length >= 4) {
            emitted.push(...pending);
            pending = [];
            delivered = completionTokens;
            if (text && answer) {
              yield* chunksOf(answer.feed(text));
              // node-llama-cpp's JSON grammar wants "\n\n\n\n" after the object before an
              // end token may come: the answer is complete when its object closes.
              if (answer.done) {
                finish = 'stop';
                break;
              }
            } else if (text)
              yield {
                type: 'delta',
                text,
                usage: { promptTokens: prompt.length, completionTokens: delivered },
              };
            if (request.signal?.aborted) {
              finish = 'cancelled';
              break;
            }
          }
          if (completionTokens >= limit) {
            finish = 'length';
            break;
          }
        }
      } catch (error) {
        yield { type: 'usage', promptTokens: prompt.length, completionTokens: delivered, source: 'engine' };
        throw error instanceof ChatModelError
          ? error
          : new ChatModelError(`local generation failed: ${(error as Error).message}`, false);
      } finally {
        await iterator.return();
      }
      if (finish === 'cancelled' || request.signal?.aborted) {
        yield { type: 'usage', promptTokens: prompt.length, completionTokens: delivered, source: 'engine' };
        yield { type: 'finish', reason: 'cancelled' };
        return;
      }
      if (pending.length) {
        const text = model.detokenize(pending, false, emitted);
        if (answer) yield* chunksOf(answer.feed(text));
        else yield { type: 'delta', text };
      }
      yield { type: 'usage', promptTokens: prompt.length, completionTokens, source: 'engine' };
      yield {
        type: 'finish',
        reason: finish === 'length' ? 'length' : answer?.calls ? 'tool_calls' : 'stop',
      };
    } finally {
      this.free.push(sequence);
      release();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.disposed = true;
    const engine = await this.engine?.catch(() => undefined);
    this.engine = undefined;
    if (!engine) return;
    await engine.context.dispose();
    await engine.model.dispose();
    await engine.llama.dispose();
  }
}
