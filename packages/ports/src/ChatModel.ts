/**
 * Language-model port. One adapter talks to any OpenAI-compatible server (llama.cpp's
 * llama-server in tests, any hosted API in production); another runs a local engine in-process.
 */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  /** @default engine default */
  temperature?: number;
  maxTokens: number;
  /** Aborting ends the stream promptly and releases the connection. */
  signal?: AbortSignal;
}

/**
 * Where token counts come from: `engine` — the engine's own counts (the server's `usage`, its
 * running counts, or the local engine's tokens); `tokenizer` — the engine reported none (a stream
 * of a generic server cut short) and the served model's tokenizer counted the prompt and the text
 * delivered; `estimate` — neither: completion tokens are the content chunks received, prompt
 * tokens the prompt's characters / 4.
 */
export type UsageSource = 'engine' | 'tokenizer' | 'estimate';

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

export type ChatChunk =
  | {
      type: 'delta';
      text: string;
      /** The engine's running counts including this delta, where the engine reports them. */
      usage?: TokenUsage;
    }
  | ({ type: 'usage'; source?: UsageSource } & TokenUsage)
  | { type: 'finish'; reason: 'stop' | 'length' | 'cancelled' | 'error' | string };

/** Raised by adapters; `retriable` tells callers (and clients, via UNAVAILABLE) to try again. */
export class ChatModelError extends Error {
  readonly code = 'ERR_CHAT_MODEL';
  constructor(
    message: string,
    readonly retriable: boolean,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ChatModelError';
  }
}

export interface ChatModel extends AsyncDisposable {
  readonly kind: string;
  /**
   * Streams the completion. Ends with exactly one `usage` and one `finish`, also when cancelled
   * (`finish` `cancelled`: the usage then counts the prompt and the deltas delivered before the
   * cancellation). Throws ChatModelError before the first delta when the server is unusable;
   * a stream that breaks off after it started yields its `usage` so far, then throws.
   */
  stream(request: ChatRequest): AsyncIterable<ChatChunk>;
}
