import { checkVectors, EmbeddingError, type EmbeddingModel } from './EmbeddingModel';

export interface OpenAICompatibleEmbeddingOptions {
  /** Base URL including `/v1`, e.g. `http://127.0.0.1:8080/v1`. */
  baseUrl: string;
  /** Sent as `model`; recorded with stored vectors. */
  model: string;
  /** Components the server returns for `model`; a different answer is a DIMENSION_MISMATCH. */
  dimension: number;
  apiKey?: string;
  /** @default 64 */
  batchSize?: number;
  /** @default 30_000 */
  timeoutMs?: number;
}

interface EmbeddingsResponse {
  data?: { index?: number; embedding?: unknown }[];
}

/**
 * Any OpenAI-compatible `/v1/embeddings` server (OpenAI, llama.cpp's llama-server with
 * `--embeddings`, vLLM, text-embeddings-inference, Ollama). Uses `fetch`: one POST per batch.
 */
export class OpenAICompatibleEmbeddingModel implements EmbeddingModel {
  readonly kind = 'openai-compatible';
  readonly model: string;
  readonly dimension: number;

  constructor(private readonly options: OpenAICompatibleEmbeddingOptions) {
    this.model = options.model;
    this.dimension = options.dimension;
  }

  async embed(texts: readonly string[], options: { signal?: AbortSignal } = {}): Promise<number[][]> {
    if (texts.some((t) => t.trim().length === 0)) {
      throw new EmbeddingError('BAD_INPUT', 'cannot embed an empty text');
    }
    const batch = this.options.batchSize ?? 64;
    const out: number[][] = [];
    for (let i = 0; i < texts.length; i += batch)
      out.push(...(await this.post(texts.slice(i, i + batch), options.signal)));
    checkVectors(this, texts.length, out);
    return out;
  }

  private async post(input: readonly string[], signal?: AbortSignal): Promise<number[][]> {
    const url = `${this.options.baseUrl.replace(/\/+$/, '')}/embeddings`;
    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 30_000);
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}),
        },
        body: JSON.stringify({ model: this.model, input, encoding_format: 'float' }),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      throw new EmbeddingError(
        'UNAVAILABLE',
        `the embedding server at ${url} cannot be reached (${describe(error)}); check that it is running`,
        { cause: error },
      );
    }
    if (!response.ok) {
      const body = (await response.text().catch(() => '')).slice(0, 300);
      throw new EmbeddingError(
        response.status >= 500 || response.status === 429 || response.status === 401
          ? 'UNAVAILABLE'
          : 'BAD_INPUT',
        `the embedding server at ${url} answered ${response.status}: ${body}`,
      );
    }
    const json = (await response.json().catch(() => ({}))) as EmbeddingsResponse;
    const data = Array.isArray(json.data) ? [...json.data] : [];
    data.sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
    return data.map((d) => {
      if (!Array.isArray(d.embedding)) {
        throw new EmbeddingError('UNAVAILABLE', `the embedding server at ${url} returned no float embedding`);
      }
      return d.embedding as number[];
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {}
}

function describe(error: unknown): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'timed out';
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(error);
}
