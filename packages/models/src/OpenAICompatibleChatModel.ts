import diagnostics from 'node:diagnostics_channel';
import { type ChatChunk, type ChatModel, ChatModelError, type ChatRequest } from '@somaagent/ports';
import OpenAI from 'openai';
import { retryDelayMs } from './backoff';
import { createNodeHttpFetch } from './nodeHttpFetch';
import { once } from './once';
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

/**
 * When each request reaches the socket; ours carry an id header. `fromUrl`'s client sends through
 * createNodeHttpFetch, which reports each request it writes; a client on the global fetch
 * (undici) is heard on undici's diagnostics channel. A client whose fetch is neither never
 * reports: `onDispatched` then fires when the response starts (or the request fails), later but
 * never lost.
 */
const DISPATCH_HEADER = 'x-soma-request-id';
const awaitingSend = new Map<string, () => void>();
let requestIds = 0;
let listening = false;
function onSent(id: string, dispatched: () => void) {
  if (!listening) {
    listening = true;
    diagnostics.subscribe('undici:client:sendHeaders', (message) => {
      if (awaitingSend.size === 0) return;
      const headers = (message as { request?: { headers?: unknown } }).request?.headers;
      let sent: string | undefined;
      if (Array.isArray(headers)) {
        for (let i = 0; i + 1 < headers.length; i += 2)
          if (String(headers[i]).toLowerCase() === DISPATCH_HEADER) sent = String(headers[i + 1]);
      } else if (typeof headers === 'string') {
        sent = new RegExp(`^${DISPATCH_HEADER}: *(\\S+)`, 'im').exec(headers)?.[1];
      }
      if (sent !== undefined) markSent(sent);
    });
  }
  awaitingSend.set(id, dispatched);
}
function markSent(id: string) {
  awaitingSend.get(id)?.();
  awaitingSend.delete(id);
}

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
    const fetch = createNodeHttpFetch({
      localHeaders: [DISPATCH_HEADER],
      onRequestWritten: (headers) => {
        const id = headers.get(DISPATCH_HEADER);
        if (id) markSent(id);
      },
    });
    return new OpenAICompatibleChatModel({
      client: new OpenAI({ baseURL, apiKey, maxRetries: 0, fetch }),
      ...options,
    });
  }

  async *stream(request: ChatRequest): AsyncIterable<ChatChunk> {
    const dispatched = once(request.onDispatched);
    try {
      // Waiting for a slot: nothing will be sent soon, so nobody should wait for it.
      if (this.slots.active >= this.slots.size) dispatched();
      const release = await this.slots.acquire(request.signal);
      if (!release) {
        yield { type: 'finish', reason: 'cancelled' };
        return;
      }
      try {
        yield* this.streamInSlot(request, dispatched);
      } finally {
        release();
      }
    } finally {
      dispatched();
    }
  }

  private async *streamInSlot(request: ChatRequest, dispatched: () => void): AsyncIterable<ChatChunk> {
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
      const requestId = `${process.pid}-${++requestIds}`;
      onSent(requestId, dispatched);
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
          { signal: request.signal, timeout: timeoutMs, headers: { [DISPATCH_HEADER]: requestId } },
        );
        awaitingSend.delete(requestId);
      } catch (error) {
        awaitingSend.delete(requestId);
        if (error instanceof OpenAI.APIUserAbortError || request.signal?.aborted) {
          yield { type: 'finish', reason: 'cancelled' };
          return;
        }
        if (staleRetries < maxStaleConnectionRetries && closedBeforeAnswer(error)) {
          staleRetries++;
          attempt--; // not a failure of the server: no backoff, no retry budget spent
          continue;
        }
        dispatched(); // a retry waits out its backoff: nothing to wait for
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

    dispatched();
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
