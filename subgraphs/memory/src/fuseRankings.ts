/**
 * Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009): an item's fused score is
 * Σ 1 / (k + rank) over the rankings that contain it (ranks from 1). Needs no score calibration
 * between a cosine similarity and a text rank, which is why hybrid search uses it.
 *
 * @param rankings ids best first, one array per retriever
 * @param k damping constant; 60 is the paper's value and the common default
 * @returns every id that appears in some ranking, best first (ties: first seen first)
 */
export function fuseRankings(
  rankings: readonly (readonly string[])[],
  k = 60,
): { id: string; score: number }[] {
  const scores = new Map<string, number>();
  for (const ranking of rankings) {
    ranking.forEach((id, index) => {
      scores.set(id, (scores.get(id) ?? 0) + 1 / (k + index + 1));
    });
  }
  return [...scores].map(([id, score]) => ({ id, score })).sort((a, b) => b.score - a.score);
}

/**
 * Multiplies a score by (1 - weight) + weight * 0.5^(age / halfLife): recent items keep their
 * score, an item one half-life old loses weight/2 of it.
 */
export function recencyFactor(ageMs: number, halfLifeMs: number, weight: number): number {
  if (!(halfLifeMs > 0) || weight <= 0) return 1;
  return 1 - weight + weight * 0.5 ** (Math.max(0, ageMs) / halfLifeMs);
}
