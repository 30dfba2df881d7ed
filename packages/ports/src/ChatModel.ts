/**
 * Language-model port. One adapter talks to any OpenAI-compatible server (llama.cpp's
 * llama-server in tests, any hosted API in production); another runs a local engine in-process.
 */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  /** Text; may be empty on an assistant turn that only called tools. */
  content: string;
  /** An assistant turn's tool calls, in the order the model made them. */
  toolCalls?: ChatToolCall[];
  /** A `tool` message: the id of the call whose result `content` is. */
  toolCallId?: string;
}

/**
 * A function the model may call. `parameters` is a JSON Schema (2020-12) of `type: "object"`;
 * `name` matches `^[a-zA-Z0-9_-]{1,64}$`. Adapters refuse other definitions with
 * ChatToolDefinitionError before anything is sent.
 */
export interface ChatTool {
  name: string;
  description?: string;
  parameters: Record<string, unknown>;
}

/** One call the model made: `arguments` is the JSON text of an object. */
export interface ChatToolCall {
  id: string;
  name: string;
  arguments: string;
}

/**
 * `auto` (the default when tools are given): the model answers or calls; `required`: it calls at
 * least one tool; `none`: it answers in text (the tools stay described); `{ name }`: it calls
 * that tool.
 */
export type ChatToolChoice = 'auto' | 'required' | 'none' | { name: string };

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  /** @default engine default */
  temperature?: number;
  maxTokens: number;
  /** Aborting ends the stream promptly and releases the connection. */
  signal?: AbortSignal;
}

/** A request that may call tools (ChatModel.streamWithTools). */
export interface ChatToolRequest extends ChatRequest {
  /** Functions the model may call; without them nothing below applies. */
  tools?: ChatTool[];
  /** @default 'auto' */
  toolChoice?: ChatToolChoice;
  /** Whether one turn may hold several calls. @default true */
  parallelToolCalls?: boolean;
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
  | {
      type: 'finish';
      /** `tool_calls`: the turn ended with tool calls, which wait for their results. */
      reason: 'stop' | 'length' | 'cancelled' | 'error' | 'tool_calls' | string;
    };

/**
 * A piece of tool call `index` (0, 1, ... in the order of the turn's calls). The first piece of
 * a call carries `name`; the `argumentsDelta`s of one index concatenate to its arguments' JSON
 * text. `id` is the same on every piece of a call. Only streamWithTools yields them, so callers
 * of `stream` keep handling ChatChunk alone.
 */
export interface ChatToolCallChunk {
  type: 'toolCall';
  index: number;
  id: string;
  name?: string;
  argumentsDelta: string;
}

/** What streamWithTools yields. */
export type ChatStreamChunk = ChatChunk | ChatToolCallChunk;

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

/**
 * A tool definition the adapters refuse (bad name, duplicate, parameters not a JSON Schema
 * object, a named toolChoice that is not among the tools): the caller's request is wrong,
 * nothing was sent. `reason` is stable: `ERR_CHAT_TOOL_DEFINITION`.
 */
export class ChatToolDefinitionError extends ChatModelError {
  readonly reason = 'ERR_CHAT_TOOL_DEFINITION';
  constructor(
    message: string,
    readonly tool?: string,
  ) {
    super(message, false, 400);
    this.name = 'ChatToolDefinitionError';
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
  /**
   * `stream` with tools: the same chunks, plus `toolCall` pieces, and finish `tool_calls` when
   * the turn called tools. Optional, so wrappers and adapters written before tools keep
   * compiling; both SomaAgent adapters have it. Throws ChatToolDefinitionError (nothing sent)
   * on a bad tool definition.
   */
  streamWithTools?(request: ChatToolRequest): AsyncIterable<ChatStreamChunk>;
}
