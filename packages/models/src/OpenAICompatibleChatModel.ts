import { type ChatChunk, type ChatModel, ChatModelError, type ChatRequest } from '@somaagent/ports';
import OpenAI from 'openai';
import { retryDelayMs } from './backoff';
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
}

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
  constructor(private readonly options: OpenAICompatibleChatModelOptions) {
    this.slots = new StreamSlots(options.maxConcurrentStreams ?? 16);
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

  async *stream(request: ChatRequest): AsyncIterable<ChatChunk> {
    const release = await this.slots.acquire(request.signal);
    if (!release) {
      yield { type: 'finish', reason: 'cancelled' };
      return;
    }
    try {
      yield* this.streamInSlot(request);
    } finally {
      release();
    }
  }

  private async *streamInSlot(request: ChatRequest): AsyncIterable<ChatChunk> {
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
    for (let attempt = 0; !stream; attempt++) {
      if (request.signal?.aborted) {
        yield { type: 'finish', reason: 'cancelled' };
        return;
      }
      try {
        stream = await client.chat.completions.create(
          {
            model: request.model,
            messages: request.messages,
            max_tokens: request.maxTokens,
            ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
            stream: true,
            stream_options: { include_usage: true },
          },
          { signal: request.signal, timeout: timeoutMs },
        );
      } catch (error) {
        if (error instanceof OpenAI.APIUserAbortError || request.signal?.aborted) {
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

    let usage: { promptTokens: number; completionTokens: number } | undefined;
    let finish: string | undefined;
    try {
      for await (const chunk of stream) {
        if (request.signal?.aborted) break;
        const choice = chunk.choices[0];
        const text = choice?.delta?.content;
        if (text) yield { type: 'delta', text };
        if (choice?.finish_reason) finish = choice.finish_reason;
        if (chunk.usage) {
          usage = {
            promptTokens: chunk.usage.prompt_tokens,
            completionTokens: chunk.usage.completion_tokens,
          };
        }
      }
    } catch (error) {
      if (error instanceof OpenAI.APIUserAbortError || request.signal?.aborted) {
        yield { type: 'finish', reason: 'cancelled' };
        return;
      }
      throw new ChatModelError(`model stream broke off: ${describe(error)}`, true);
    }
    if (request.signal?.aborted) {
      yield { type: 'finish', reason: 'cancelled' };
      return;
    }
    if (!usage)
      throw new ChatModelError(
        'model server sent no usage; it must support stream_options.include_usage',
        false,
      );
    yield { type: 'usage', ...usage };
    yield { type: 'finish', reason: finish ?? 'stop' };
  }

  async [Symbol.asyncDispose](): Promise<void> {}
}
