import type { VerifiedClaims } from '@somaagent/internal-auth';
import { type Caller, requireCaller } from './capabilities';
import { fuseRankings, recencyFactor } from './fuseRankings';
import type { RecallInput, RetrieveContextInput } from './generated/resolvers-types';
import { badInput, checkFilter, resolveScope } from './inputChecks';
import { collectionName, type MemoryCollections } from './MemoryCollections';
import type { MemoryLimits } from './MemoryLimits';
import type { ItemRow, MemoryStore } from './MemoryStore';
import type { VectorIndex } from './VectorIndex';

export interface Hit {
  item: ItemRow;
  score: number;
  similarity: number | null;
  vectorRank: number | null;
  keywordRank: number | null;
}

export interface Citation {
  marker: number;
  item: ItemRow;
  score: number;
  documentTitle: string | null;
}

/**
 * Candidates each retriever hands to the fusion: its head only (2k, at least 20). Deeper lists
 * let RRF promote items that both retrievers rank mediocre over one ranked first by one of them;
 * with 50 per list, the labelled set (docs/memory.md) lost its best keyword hits that way.
 */
const CANDIDATES_PER_K = 2;
const MIN_CANDIDATES = 20;
const MAX_CANDIDATES = 100;

/**
 * The read path that ranks: recall (vector, keyword or both fused, with an optional recency
 * weight) and retrieveContext, which cuts the best hits to a prompt-sized text with [n] markers.
 */
export class MemoryRecall {
  constructor(
    private readonly store: MemoryStore,
    private readonly collections: MemoryCollections,
    private readonly index: VectorIndex,
    private readonly limits: MemoryLimits,
  ) {}

  async recall(claims: VerifiedClaims | null, input: RecallInput): Promise<Hit[]> {
    return this.search(requireCaller(claims, 'memory:read'), input, this.limits.maxK);
  }

  async retrieveContext(
    claims: VerifiedClaims | null,
    input: RetrieveContextInput,
  ): Promise<{ text: string; citations: Citation[] }> {
    const caller = requireCaller(claims, 'memory:read');
    const maxChars = input.maxChars ?? 6000;
    if (!Number.isInteger(maxChars) || maxChars < 200 || maxChars > 32_000) {
      throw badInput('maxChars', 'maxChars must be an integer between 200 and 32000');
    }
    const hits = await this.search(
      caller,
      {
        query: input.question,
        k: input.k ?? 5,
        scopes: input.scopes ?? null,
        collection: input.collection ?? null,
        filter: input.filter ?? null,
        mode: 'HYBRID',
      },
      this.limits.maxContextK,
      'question',
    );
    const titles = await this.store.scoped(caller, async (tx) =>
      this.store.documentTitles(
        tx,
        hits.flatMap((h) => (h.item.document_id ? [h.item.document_id] : [])),
      ),
    );
    const parts: string[] = [];
    const citations: Citation[] = [];
    let used = 0;
    for (const hit of hits) {
      const marker = citations.length + 1;
      const title = hit.item.document_id ? (titles.get(hit.item.document_id) ?? null) : null;
      const label = title ? ` (${title}, part ${hit.item.ordinal! + 1})` : '';
      let passage = `[${marker}]${label} ${hit.item.content}`;
      const room = maxChars - used - (parts.length ? 2 : 0);
      if (room < 50) break;
      if (passage.length > room) passage = `${passage.slice(0, room - 1)}…`;
      parts.push(passage);
      used += passage.length + (parts.length > 1 ? 2 : 0);
      citations.push({ marker, item: hit.item, score: hit.score, documentTitle: title });
    }
    return { text: parts.join('\n\n'), citations };
  }

  private async search(
    caller: Caller,
    input: RecallInput,
    maxK: number,
    queryField = 'query',
  ): Promise<Hit[]> {
    const { query, k, mode, scopes, filter, halfLife, weight, name } = this.checkSearch(
      caller,
      input,
      maxK,
      queryField,
    );
    const collection = await this.collections.find(caller, name);
    if (!collection) return [];
    const candidates =
      mode === 'HYBRID'
        ? Math.min(MAX_CANDIDATES, Math.max(MIN_CANDIDATES, k * CANDIDATES_PER_K))
        : k * (halfLife > 0 ? CANDIDATES_PER_K : 1);
    const vector = mode === 'KEYWORD' ? null : (await this.collections.embed([query]))[0]!;

    return this.store.scoped(caller, async (tx) => {
      const vectorHits = vector
        ? await this.index.nearest(tx, { collection, vector, k: candidates, scopes, filter })
        : [];
      const keywordHits =
        mode === 'VECTOR' ? [] : await this.store.keyword(tx, collection, query, candidates, scopes, filter);
      const vectorRank = new Map(vectorHits.map((h, i) => [h.itemId, i + 1]));
      const similarity = new Map(vectorHits.map((h) => [h.itemId, 1 - h.distance]));
      const keywordRank = new Map(keywordHits.map((h, i) => [h.id, i + 1]));
      let scored: { id: string; score: number }[];
      if (mode === 'HYBRID')
        scored = fuseRankings([vectorHits.map((h) => h.itemId), keywordHits.map((h) => h.id)]);
      else if (mode === 'VECTOR') scored = vectorHits.map((h) => ({ id: h.itemId, score: 1 - h.distance }));
      else scored = keywordHits.map((h) => ({ id: h.id, score: h.rank }));
      if (halfLife > 0 && scored.length) {
        const age = await this.store.ages(
          tx,
          scored.map((s) => s.id),
        );
        const halfLifeMs = halfLife * 3_600_000;
        scored = scored
          .map((s) => ({ id: s.id, score: s.score * recencyFactor(age.get(s.id) ?? 0, halfLifeMs, weight) }))
          .sort((a, b) => b.score - a.score);
      }
      const top = scored.slice(0, k);
      const rows = new Map(
        (
          await this.store.itemsByIds(
            tx,
            top.map((t) => t.id),
          )
        ).map((r) => [r.id, r]),
      );
      return top.flatMap((t) => {
        const item = rows.get(t.id);
        if (!item) return [];
        return [
          {
            item,
            score: t.score,
            similarity: similarity.get(t.id) ?? null,
            vectorRank: vectorRank.get(t.id) ?? null,
            keywordRank: keywordRank.get(t.id) ?? null,
          },
        ];
      });
    });
  }

  /** The search `input` asks for, checked in the order its errors are reported. */
  private checkSearch(caller: Caller, input: RecallInput, maxK: number, queryField: string) {
    const query = input.query.trim();
    if (query.length === 0) throw badInput(queryField, `${queryField} is empty`);
    if (query.length > this.limits.maxQueryChars) {
      throw badInput(
        queryField,
        `${queryField} has ${query.length} characters; at most ${this.limits.maxQueryChars}`,
        {
          limit: this.limits.maxQueryChars,
        },
      );
    }
    const k = input.k ?? 5;
    if (!Number.isInteger(k) || k < 1 || k > maxK)
      throw badInput('k', `k must be an integer between 1 and ${maxK}`);
    const mode = input.mode ?? 'HYBRID';
    const scopes = (input.scopes?.length ? input.scopes : [{ kind: 'USER' as const }]).map((s) =>
      resolveScope(caller, s),
    );
    if (scopes.length > 10) throw badInput('scopes', 'at most 10 scopes per search');
    const filter = checkFilter(input.filter, this.limits.maxMetadataBytes);
    const halfLife = input.recencyHalfLifeHours ?? 0;
    const weight = input.recencyWeight ?? 0.3;
    if (!(halfLife >= 0)) throw badInput('recencyHalfLifeHours', 'recencyHalfLifeHours must be 0 or more');
    if (!(weight >= 0 && weight <= 1))
      throw badInput('recencyWeight', 'recencyWeight must be between 0 and 1');
    return { query, k, mode, scopes, filter, halfLife, weight, name: collectionName(input.collection) };
  }
}
