import { readFileSync } from 'node:fs';
import type { SqlDatabase } from '@somaagent/ports';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryService, PgVectorIndex } from '../src/index';
import { adapters, claimsFor, embedder, newTenant, openMigrated } from './support';

/**
 * Retrieval quality on a real labelled set (fixtures/retrieval/README.md: README passages of
 * installed npm packages, 45 hand-labelled queries). Every passage is remembered in one TENANT
 * scope with the real embedded model; each query is recalled with k = 10 in KEYWORD, VECTOR and
 * HYBRID mode. Hybrid must beat both single retrievers on nDCG@10 or recall@10.
 */

interface Passage {
  id: string;
  text: string;
}
interface Labelled {
  q: string;
  relevant: Record<string, number>;
}

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`./fixtures/retrieval/${name}`, import.meta.url), 'utf8'));
const corpus = fixture('corpus.json') as Passage[];
const queries = (fixture('queries.json') as { queries: Labelled[] }).queries;

/** nDCG@k with gains 2^grade - 1 and log2 discounts. */
function ndcg(ranked: string[], relevant: Record<string, number>, k = 10): number {
  const dcg = ranked
    .slice(0, k)
    .reduce((s, id, i) => s + (2 ** (relevant[id] ?? 0) - 1) / Math.log2(i + 2), 0);
  const ideal = Object.values(relevant)
    .sort((a, b) => b - a)
    .slice(0, k)
    .reduce((s, g, i) => s + (2 ** g - 1) / Math.log2(i + 2), 0);
  return ideal === 0 ? 0 : dcg / ideal;
}

function recall(ranked: string[], relevant: Record<string, number>, k = 10): number {
  const ids = Object.keys(relevant);
  return ranked.slice(0, k).filter((id) => ids.includes(id)).length / ids.length;
}

const MODES = ['KEYWORD', 'VECTOR', 'HYBRID'] as const;
type Mode = (typeof MODES)[number];

for (const adapter of adapters) {
  describe(`retrieval quality on the labelled README set: ${adapter.name}`, () => {
    let db: SqlDatabase;
    beforeAll(async () => {
      db = await openMigrated(adapter);
    });
    afterAll(async () => {
      await db?.[Symbol.asyncDispose]();
    });

    it('hybrid (RRF) beats keyword-only and vector-only on nDCG@10 or recall@10', {
      timeout: 180_000,
    }, async () => {
      const memory = new MemoryService(db, embedder, new PgVectorIndex());
      const caller = claimsFor(newTenant(), 'evaluator');
      const scope = { kind: 'TENANT' } as const;
      const passageOf = new Map<string, string>();
      for (const p of corpus) {
        const item = await memory.remember(caller, { text: p.text, scope, metadata: { passage: p.id } });
        passageOf.set(item.id, p.id);
      }
      const totals: Record<Mode, { ndcg: number; recall: number }> = {
        KEYWORD: { ndcg: 0, recall: 0 },
        VECTOR: { ndcg: 0, recall: 0 },
        HYBRID: { ndcg: 0, recall: 0 },
      };
      for (const { q, relevant } of queries) {
        for (const mode of MODES) {
          const hits = await memory.recall(caller, { query: q, k: 10, scopes: [scope], mode });
          const ranked = hits.map((h) => passageOf.get(h.item.id)!);
          totals[mode].ndcg += ndcg(ranked, relevant);
          if (process.env.SOMA_RETRIEVAL_DEBUG)
            console.info(`${mode}|${ndcg(ranked, relevant).toFixed(2)}|${q}|${ranked.slice(0, 3).join(' ')}`);
          totals[mode].recall += recall(ranked, relevant);
        }
      }
      const mean = Object.fromEntries(
        MODES.map((m) => [
          m,
          { ndcg: totals[m].ndcg / queries.length, recall: totals[m].recall / queries.length },
        ]),
      ) as Record<Mode, { ndcg: number; recall: number }>;
      console.info(
        `[retrieval-quality] ${adapter.name}: ${corpus.length} passages, ${queries.length} queries\n` +
          MODES.map(
            (m) =>
              `  ${m.padEnd(8)} nDCG@10 ${mean[m].ndcg.toFixed(3)}  recall@10 ${mean[m].recall.toFixed(3)}`,
          ).join('\n'),
      );
      const beatsOn = (metric: 'ndcg' | 'recall') =>
        mean.HYBRID[metric] > mean.KEYWORD[metric] && mean.HYBRID[metric] > mean.VECTOR[metric];
      expect(beatsOn('ndcg') || beatsOn('recall')).toBe(true);
    });
  });
}
