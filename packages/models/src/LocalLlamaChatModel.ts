import {
  type ChatChunk,
  type ChatMessage,
  type ChatModel,
  ChatModelError,
  type ChatRequest,
} from '@somaagent/ports';
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';
import { chatPromptTokenizer } from './chatPromptTokens';
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
}

/**
 * llama.cpp in-process through node-llama-cpp: the embedded default engine. Loads the GGUF on
 * first use (CPU build; the GPU builds are not installed), renders messages with the model's
 * chat template, streams deltas as tokens are sampled, stops on an end-of-generation token
 * (`stop`), after `maxTokens` or at the end of the context (`length`), or when the signal aborts
 * (`cancelled`, checked between tokens). Usage counts are the engine's own tokens: the rendered
 * prompt's token count and the number of tokens sampled.
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
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
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
    return { llama, model, context, render };
  }

  async *stream(request: ChatRequest): AsyncIterable<ChatChunk> {
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
    const { model, render } = await this.start();
    const prompt = render(request.messages);
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
            if (text)
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
      if (pending.length) yield { type: 'delta', text: model.detokenize(pending, false, emitted) };
      yield { type: 'usage', promptTokens: prompt.length, completionTokens, source: 'engine' };
      yield { type: 'finish', reason: finish ?? 'stop' };
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
