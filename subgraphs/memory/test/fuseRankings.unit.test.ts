import { describe, expect, it } from 'vitest';
import { fuseRankings, recencyFactor } from '../src/fuseRankings';

describe('fuseRankings (reciprocal rank fusion)', () => {
  it('sums 1/(k + rank) over the rankings', () => {
    const fused = fuseRankings(
      [
        ['a', 'b', 'c'],
        ['c', 'a', 'd'],
      ],
      60,
    );
    expect(fused.map((f) => f.id)).toEqual(['a', 'c', 'b', 'd']);
    expect(fused[0]!.score).toBeCloseTo(1 / 61 + 1 / 62, 12);
    expect(fused[1]!.score).toBeCloseTo(1 / 63 + 1 / 61, 12);
    expect(fused[3]!.score).toBeCloseTo(1 / 63, 12);
  });

  it('an item found by both retrievers beats one ranked first by only one of them', () => {
    const fused = fuseRankings([
      ['only-vector', 'both'],
      ['only-keyword', 'both'],
    ]);
    expect(fused[0]!.id).toBe('both');
  });

  it('empty rankings fuse to nothing', () => {
    expect(fuseRankings([[], []])).toEqual([]);
  });
});

describe('recencyFactor', () => {
  it('is 1 when new, 1 - w/2 after one half-life, and 1 without weighting', () => {
    expect(recencyFactor(0, 1000, 0.4)).toBe(1);
    expect(recencyFactor(1000, 1000, 0.4)).toBeCloseTo(0.8, 12);
    expect(recencyFactor(1e12, 1000, 0.4)).toBeCloseTo(0.6, 6);
    expect(recencyFactor(5000, 0, 0.4)).toBe(1);
  });
});
