import {
  type ChatChunk,
  type ChatMessage,
  type ChatModel,
  ChatModelError,
  type ChatRequest,
  type ChatStreamChunk,
  type ChatToolRequest,
  type TokenUsage,
} from '@somaagent/ports';
import OpenAI from 'openai';
import { retryDelayMs } from './backoff';
import {
  callableTools,
  flattenToolMessages,
  ToolAnswerParser,
  toolAnswerSchema,
  toolCallIds,
  toolSystemPrompt,
  validateChatTools,
} from './chatTools';
import type { TokenCounter } from './GgufTokenCounter';
import { createNodeHttpFetch } from './nodeHttpFetch';
import { StreamSlots } from './StreamSlots';

export interface OpenAICompatibleChatModelOptions {
  /** A client built with `maxRetries: 0`: retries are done here, only before the first token. */
  client: OpenAI;
  /** Retries with backoff on 429/408/5xx and failed connections. @default 3 */
  maxRetries?: number;
  /**
   * Immediate retries, outside `maxRetries`, when a kept-alive connection turns out to be closed
   * before any answer came (see `closedBeforeAnswer`). @default 3
   */
  maxStaleConnectionRetries?: number;
  /** @default 250 */
  baseDelayMs?: number;
  /** @default 8000 */
  maxDelayMs?: number;
  /** Time allowed until the response starts, counted from when the request is sent. @default 60_000 */
  timeoutMs?: number;
  /**
   * Streams on the wire to this server at once; more wait in this process, in arrival order
   * (see StreamSlots for why). Match it to the server's slots, with some headroom.
   * @default 16
   */
  maxConcurrentStreams?: number;
  /**
   * How a stream cut short (cancelled, timed out, broken off) still gets the engine's counts:
   * llama.cpp's llama-server puts its running counts in every chunk when asked
   * (`timings_per_token`: `cache_n + prompt_n` prompt tokens, `predicted_n` generated), other
   * servers send `usage` only at the end of a complete answer. `'llama-server'` always asks;
   * `'detect'` asks once a complete answer showed the server is llama-server (its last chunk
   * carries `timings`); `'off'` never asks (a server that refuses unknown parameters). Without
   * running counts a cut-short stream is counted with `tokenCounter`, or else estimated (see
   * `UsageSource`).
   * @default 'detect'
   */
  runningUsage?: 'llama-server' | 'detect' | 'off';
  /**
   * The served model's tokenizer (e.g. a GgufTokenCounter on a GGUF of the same model): counts the
   * prompt and the text delivered of a stream cut short when the server gave no running counts
   * (`source: 'tokenizer'`). @default none: such a stream is estimated
   */
  tokenCounter?: TokenCounter;
  /**
   * How tools reach the server. `'native'`: OpenAI's `tools` / `tool_choice` /
   * `parallel_tool_calls`, calls read from `delta.tool_calls` (a named choice is sent as that
   * tool alone with `required`, which llama-server also understands: it takes only the strings).
   * `'json-schema'`: for servers and models without native tool calling: the tools are described
   * in a system message and the answer is held to a JSON Schema by `response_format`
   * (toolAnswerSchema), from the first token on; llama-server's `required` grammar lets a text
   * prefix come first, which an untrained model never ends.
   * @default 'native'
   */
  toolCalling?: 'native' | 'json-schema';
}

type OpenAIMessage = OpenAI.Chat.Completions.ChatCompletionMessageParam;

/** The port's messages in OpenAI's shape (tool calls and tool results included). */
function toOpenAIMessages(messages: ChatMessage[]): OpenAIMessage[] {
  return messages.map((m): OpenAIMessage => {
    if (m.role === 'tool') return { role: 'tool', tool_call_id: m.toolCallId ?? '', content: m.content };
    if (m.role === 'assistant' && m.toolCalls?.length)
      return {
        role: 'assistant',
        content: m.content || null,
        tool_calls: m.toolCalls.map((c) => ({
          id: c.id,
          type: 'function',
          function: { name: c.name, arguments: c.arguments },
        })),
      };
    return { role: m.role, content: m.content } as OpenAIMessage;
  });
}

/** The request's tool fields, the messages to send, and whether the answer is a JSON tool answer. */
function toolParams(request: ChatToolRequest, mode: 'native' | 'json-schema') {
  const tools = request.tools?.length ? request.tools : undefined;
  if (request.tools) validateChatTools(request);
  const choice = request.toolChoice ?? 'auto';
  // `counted`: what a tokenizer or the estimate counts when the server gave no counts.
  const counted = request.messages;
  if (!tools) return { messages: toOpenAIMessages(request.messages), counted, body: {}, jsonAnswer: false };
  if (mode === 'json-schema') {
    const flat = flattenToolMessages(request.messages, toolSystemPrompt(tools, choice));
    const messages = toOpenAIMessages(flat);
    if (choice === 'none') return { messages, counted: flat, body: {}, jsonAnswer: false };
    const schema = toolAnswerSchema(tools, choice, request.parallelToolCalls ?? true);
    return {
      messages,
      counted: flat,
      body: {
        response_format: { type: 'json_schema' as const, json_schema: { name: 'tool_answer', schema } },
      },
      jsonAnswer: true,
    };
  }
  const sent = callableTools(tools, choice).map((t) => ({
    type: 'function' as const,
    function: {
      name: t.name,
      ...(t.description ? { description: t.description } : {}),
      parameters: t.parameters,
    },
  }));
  return {
    messages: toOpenAIMessages(request.messages),
    // The server renders the tools too: a count of the messages alone falls short of them.
    counted,
    body: {
      tools: sent,
      tool_choice: typeof choice === 'object' ? 'required' : choice,
      ...(request.parallelToolCalls !== undefined ? { parallel_tool_calls: request.parallelToolCalls } : {}),
    },
    jsonAnswer: false,
  };
}

/** llama-server's per-chunk `timings` (with `timings_per_token`, or on its last chunk). */
interface LlamaServerTimings {
  cache_n?: number;
  prompt_n?: number;
  predicted_n?: number;
}

/** Prompt tokens when the engine reported none: ~4 characters per token. */
const estimatePromptTokens = (messages: ChatMessage[]) =>
  Math.ceil(messages.reduce((n, m) => n + m.content.length, 0) / 4);

// The abort listener is removed when the timer fires: a request that retries several times
// must not pile listeners onto the caller's signal.
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** The error's message with its causes' ("Connection error." alone says nothing an operator can act on). */
function describe(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e instanceof Error && parts.length < 4; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    parts.push(typeof code === 'string' && !e.message.includes(code) ? `${e.message} [${code}]` : e.message);
  }
  return parts.length ? parts.join(': ') : String(error);
}

/**
 * The connection broke before any byte of an answer: the classic keep-alive race, where the
 * client sends on a pooled socket the server is closing at that moment. llama.cpp's llama-server
 * closes the connection after EVERY streamed answer without saying so (its stream callback
 * returns false after the last chunk, which cpp-httplib takes for a cancel; no
 * `Connection: close`), so a request sent the moment another stream ended often goes out on a
 * dead socket (~2% of 3,000 sequential streams, 4 at a time, failed `other side closed`). The
 * server never read the request, so sending it again at once, on another connection, is safe.
 */
function closedBeforeAnswer(error: unknown): boolean {
  if (!(error instanceof OpenAI.APIConnectionError) || error instanceof OpenAI.APIConnectionTimeoutError)
    return false;
  for (let e: unknown = error.cause; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_CLOSED')
      return true;
  }
  return false;
}

const retriableStatus = (status: number | undefined) =>
  status === 408 || status === 429 || (status ?? 0) >= 500;

/**
 * Any OpenAI-compatible server through the `openai` client: streaming with the engine's own
 * usage counts (`stream_options.include_usage`), retries with exponential backoff and jitter on
 * 429/5xx/connection failures honouring Retry-After, and prompt cancellation through the signal.
 */
export class OpenAICompatibleChatModel implements ChatModel {
  readonly kind = 'openai-compatible';
  /** Streams on the wire and waiting (operators and tests read it). */
  readonly slots: StreamSlots;
  /** Whether this server sends running counts when asked (see `runningUsage`). */
  private llamaServer: boolean;
  constructor(private readonly options: OpenAICompatibleChatModelOptions) {
    this.slots = new StreamSlots(options.maxConcurrentStreams ?? 16);
    this.llamaServer = options.runningUsage === 'llama-server';
  }

  static fromUrl(
    baseURL: string,
    apiKey = 'not-needed',
    options: Omit<OpenAICompatibleChatModelOptions, 'client'> = {},
  ) {
    const fetch = createNodeHttpFetch();
    return new OpenAICompatibleChatModel({
      client: new OpenAI({ baseURL, apiKey, maxRetries: 0, fetch }),
      ...options,
    });
  }

  stream(request: ChatRequest): AsyncIterable<ChatChunk> {
    // Without tools no toolCall piece can come.
    return this.streamWithTools({ ...request, tools: undefined }) as AsyncIterable<ChatChunk>;
  }

  async *streamWithTools(request: ChatToolRequest): AsyncIterable<ChatStreamChunk> {
    // Bad tool definitions are the caller's error: refused before waiting for a slot.
    const tools = toolParams(request, this.options.toolCalling ?? 'native');
    const release = await this.slots.acquire(request.signal);
    if (!release) {
      // Never sent: the engine processed nothing.
      yield { type: 'usage', promptTokens: 0, completionTokens: 0, source: 'engine' };
      yield { type: 'finish', reason: 'cancelled' };
      return;
    }
    try {
      yield* this.streamInSlot(request, tools);
    } finally {
      release();
    }
  }

  private async *streamInSlot(
    request: ChatToolRequest,
    tools: ReturnType<typeof toolParams>,
  ): AsyncIterable<ChatStreamChunk> {
    const {
      client,
      maxRetries = 3,
      maxStaleConnectionRetries = 3,
      baseDelayMs = 250,
      maxDelayMs = 8_000,
      timeoutMs = 60_000,
    } = this.options;
    let stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk> | undefined;
    let staleRetries = 0;
    const askRunning = this.llamaServer && this.options.runningUsage !== 'off';
    // What was delivered so far: the engine's running counts (askRunning), else the text received.
    let running: TokenUsage | undefined;
    let contentChunks = 0;
    let received = '';
    let sent = false;
    const soFar = async (): Promise<ChatChunk> => {
      if (running) return { type: 'usage', ...running, source: 'engine' };
      if (!sent) return { type: 'usage', promptTokens: 0, completionTokens: 0, source: 'engine' };
      const counted = await this.countWithTokenizer(tools.counted, received);
      return counted
        ? { type: 'usage', ...counted, source: 'tokenizer' }
        : {
            type: 'usage',
            promptTokens: estimatePromptTokens(tools.counted),
            completionTokens: contentChunks,
            source: 'estimate',
          };
    };
    for (let attempt = 0; !stream; attempt++) {
      if (request.signal?.aborted) {
        yield await soFar();
        yield { type: 'finish', reason: 'cancelled' };
        return;
      }
      try {
        sent = true;
        stream = await client.chat.completions.create(
          {
            model: request.model,
            messages: tools.messages,
            ...tools.body,
            max_tokens: request.maxTokens,
            ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
            stream: true,
            stream_options: { include_usage: true },
            // llama-server only (see runningUsage); the client sends unknown keys as they are.
            ...(askRunning ? ({ timings_per_token: true } as object) : {}),
          },
          { signal: request.signal, timeout: timeoutMs },
        );
      } catch (error) {
        if (error instanceof OpenAI.APIUserAbortError || request.signal?.aborted) {
          yield await soFar();
          yield { type: 'finish', reason: 'cancelled' };
          return;
        }
        if (staleRetries < maxStaleConnectionRetries && closedBeforeAnswer(error)) {
          staleRetries++;
          attempt--; // not a failure of the server: no backoff, no retry budget spent
          continue;
        }
        const status = error instanceof OpenAI.APIError ? error.status : undefined;
        const retriable = error instanceof OpenAI.APIConnectionError || retriableStatus(status);
        if (!retriable || attempt >= maxRetries) {
          throw new ChatModelError(
            `model server ${retriable ? 'unavailable' : 'refused the request'}${status ? ` (HTTP ${status})` : ''} after ${attempt + 1} attempt${attempt ? 's' : ''}${staleRetries ? ` (+${staleRetries} on connections closed before an answer)` : ''}: ${describe(error)}`,
            retriable,
            status,
          );
        }
        const retryAfter = error instanceof OpenAI.APIError ? error.headers?.get('retry-after') : undefined;
        await sleep(
          retryDelayMs(attempt, retryAfter, { baseMs: baseDelayMs, maxMs: maxDelayMs }),
          request.signal,
        );
      }
    }

    let usage: TokenUsage | undefined;
    let finish: string | undefined;
    const answer = tools.jsonAnswer ? new ToolAnswerParser() : undefined;
    // A call's id comes on its first piece only (and some servers send none): kept per index.
    const idOf = toolCallIds();
    let calls = 0;
    try {
      for await (const chunk of stream) {
        // Counts are taken only from chunks delivered: after an abort the last one stands.
        if (request.signal?.aborted) break;
        const timings = (chunk as { timings?: LlamaServerTimings }).timings;
        if (timings?.predicted_n !== undefined) {
          running = {
            promptTokens: (timings.cache_n ?? 0) + (timings.prompt_n ?? 0),
            completionTokens: timings.predicted_n,
          };
        }
        const choice = chunk.choices[0];
        const text = choice?.delta?.content;
        if (text) {
          contentChunks++;
          if (this.options.tokenCounter) received += text;
          if (answer) {
            for (const e of answer.feed(text)) {
              if (e.type === 'text') yield { type: 'delta', text: e.text };
              else {
                calls = Math.max(calls, e.index + 1);
                yield {
                  type: 'toolCall',
                  index: e.index,
                  id: idOf(e.index),
                  ...(e.name !== undefined ? { name: e.name } : {}),
                  argumentsDelta: e.argumentsDelta,
                };
              }
            }
          } else
            yield askRunning && running ? { type: 'delta', text, usage: running } : { type: 'delta', text };
        }
        for (const call of choice?.delta?.tool_calls ?? []) {
          calls = Math.max(calls, call.index + 1);
          const id = idOf(call.index, call.id);
          const name = call.function?.name;
          yield {
            type: 'toolCall',
            index: call.index,
            id,
            ...(name ? { name } : {}),
            argumentsDelta: call.function?.arguments ?? '',
          };
        }
        if (choice?.finish_reason) finish = choice.finish_reason;
        if (chunk.usage) {
          usage = {
            promptTokens: chunk.usage.prompt_tokens,
            completionTokens: chunk.usage.completion_tokens,
          };
          // Only llama-server puts `timings` on its last chunk: ask it for running counts from now on.
          if (timings && this.options.runningUsage !== 'off') this.llamaServer = true;
        }
      }
    } catch (error) {
      yield await soFar();
      if (error instanceof OpenAI.APIUserAbortError || request.signal?.aborted) {
        yield { type: 'finish', reason: 'cancelled' };
        return;
      }
      throw new ChatModelError(`model stream broke off: ${describe(error)}`, true);
    }
    if (request.signal?.aborted) {
      yield await soFar();
      yield { type: 'finish', reason: 'cancelled' };
      return;
    }
    if (!usage)
      throw new ChatModelError(
        'model server sent no usage; it must support stream_options.include_usage',
        false,
      );
    yield { type: 'usage', ...usage, source: 'engine' };
    // A JSON tool answer ends `stop` on the wire; the port says what it was.
    yield {
      type: 'finish',
      reason: calls && (finish ?? 'stop') === 'stop' ? 'tool_calls' : (finish ?? 'stop'),
    };
  }

  /** The tokenizer's counts, or undefined (no counter, or it failed: metering must not fail the answer). */
  private async countWithTokenizer(messages: ChatMessage[], text: string): Promise<TokenUsage | undefined> {
    const counter = this.options.tokenCounter;
    if (!counter) return undefined;
    try {
      const [promptTokens, completionTokens] = await Promise.all([
        counter.countPrompt(messages),
        counter.countText(text),
      ]);
      return { promptTokens, completionTokens };
    } catch {
      return undefined;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {}
}
