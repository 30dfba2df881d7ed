import { describe, expect, it } from 'vitest';
import { chunkText } from '../src/chunkText';
import { prng } from './support';

const words = (n: number, seed: number) => {
  const next = prng(seed);
  const vocab = ['alpha', 'beta', 'gamma', 'delta.', 'epsilon', 'zeta\n\n', 'eta', 'theta?', 'iota', 'kappa'];
  return Array.from({ length: n }, () => vocab[Math.floor(next() * vocab.length)]).join(' ');
};

describe('chunkText', () => {
  it('covers the text with chunks of at most `size`, offsets into the original, overlapping neighbours', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const text = words(800, seed);
      for (const [size, overlap] of [
        [100, 0],
        [200, 40],
        [500, 150],
        [120, 60],
      ] as const) {
        const chunks = chunkText(text, { size, overlap });
        let covered = 0;
        chunks.forEach((c, i) => {
          expect(c.ordinal).toBe(i);
          expect(c.text).toBe(text.slice(c.start, c.end));
          expect(c.text.length).toBeLessThanOrEqual(size);
          expect(c.text.trim()).toBe(c.text);
          // No gap: every non-space character belongs to some chunk.
          expect(text.slice(covered, c.start).trim()).toBe('');
          covered = Math.max(covered, c.end);
          if (i > 0 && overlap > 0) expect(c.start).toBeLessThan(chunks[i - 1]!.end);
          if (i > 0) expect(c.start).toBeGreaterThan(chunks[i - 1]!.start);
        });
        expect(text.slice(covered).trim()).toBe('');
      }
    }
  });

  it('ends chunks at paragraph, sentence or word boundaries when it can', () => {
    const text = 'First sentence here. Second sentence is longer than that.\n\nA new paragraph starts.';
    const chunks = chunkText(text, { size: 70, overlap: 0 });
    expect(chunks.map((c) => c.text)).toEqual([
      'First sentence here. Second sentence is longer than that.',
      'A new paragraph starts.',
    ]);
    const words = chunkText('aaaa bbbb cccc dddd', { size: 12, overlap: 0 }).map((c) => c.text);
    expect(words).toEqual(['aaaa bbbb', 'cccc dddd']);
  });

  it('hard-cuts a word longer than a chunk, and returns nothing for blank text', () => {
    expect(chunkText('x'.repeat(250), { size: 100, overlap: 10 }).map((c) => c.text.length)).toEqual([
      100,
      100,
      50, // no word boundary to start an overlap at: none
    ]);
    expect(chunkText('  \n ', { size: 100, overlap: 10 })).toEqual([]);
    expect(() => chunkText('abc', { size: 10, overlap: 10 })).toThrow(RangeError);
  });
});
