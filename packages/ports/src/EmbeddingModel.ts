/**
 * Text-embedding port. One adapter runs a model with real weights in this process (the embedded
 * default); another talks to any OpenAI-compatible `/v1/embeddings` server. Every vector an
 * adapter returns has exactly `dimension` components; callers record `model` and `dimension`
 * with what they store, so vectors of two models are never compared.
 */
export interface EmbeddingModel extends AsyncDisposable {
  /** Adapter kind for logs (`universal-sentence-encoder`, `openai-compatible`). */
  readonly kind: string;
  /** The model's name as recorded with stored vectors, e.g. `universal-sentence-encoder-lite`. */
  readonly model: string;
  /** Components per vector. */
  readonly dimension: number;
  /** One vector per text, in order. Throws EmbeddingError. */
  embed(texts: readonly string[], options?: { signal?: AbortSignal }): Promise<number[][]>;
}

export type EmbeddingErrorReason =
  /** The model or its server cannot be reached or loaded: try again later. */
  | 'UNAVAILABLE'
  /** The engine answered with vectors of another dimension or count than promised. */
  | 'DIMENSION_MISMATCH'
  /** The input cannot be embedded (empty text, too many texts). */
  | 'BAD_INPUT';

/** Raised by embedding adapters; `reason` is stable, the message says what to do. */
export class EmbeddingError extends Error {
  readonly code = 'ERR_EMBEDDING';
  constructor(
    readonly reason: EmbeddingErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EmbeddingError';
  }
}
