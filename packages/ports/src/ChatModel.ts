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

export type ChatChunk =
  | { type: 'delta'; text: string }
  | { type: 'usage'; promptTokens: number; completionTokens: number }
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
   * Streams the completion. Ends with exactly one `usage` (counts from the engine itself) and
   * one `finish`. Throws ChatModelError before the first delta when the server is unusable.
   */
  stream(request: ChatRequest): AsyncIterable<ChatChunk>;
}
