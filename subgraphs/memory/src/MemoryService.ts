import { EmbeddingError, type EmbeddingModel } from '@somaagent/embeddings';
import { clip, SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import { type Connection, pageArgs, toConnection } from '@somaagent/pagination';
import type { SqlDatabase, SqlExecutor } from '@somaagent/ports';
import { type Caller, type MemoryCapability, requireCaller } from './capabilities';
import { chunkText } from './chunkText';
import { fuseRankings, recencyFactor } from './fuseRankings';
import { scopeCondition } from './PgVectorIndex';
import type { ItemFilter, ScopeKey, VectorCollection, VectorIndex } from './VectorIndex';

export interface MemoryLimits {
  /** Characters of one remembered text. @default 8000 */
  maxMemoryChars: number;
  /** Characters of one document. @default 1_000_000 */
  maxDocumentChars: number;
  /** Chunks of one document (each is embedded). @default 2000 */
  maxChunksPerDocument: number;
  /** Characters of a recall query or question. @default 2000 */
  maxQueryChars: number;
  /** Upper bound of recall's k. @default 50 */
  maxK: number;
  /** Upper bound of retrieveContext's k. @default 20 */
  maxContextK: number;
  /** Serialized size of a metadata object. @default 16384 bytes */
  maxMetadataBytes: number;
  /** @default 1000 */
  defaultChunkSize: number;
  /** @default 150 */
  defaultChunkOverlap: number;
}

export const DEFAULT_MEMORY_LIMITS: MemoryLimits = {
  maxMemoryChars: 8000,
  maxDocumentChars: 1_000_000,
  maxChunksPerDocument: 2000,
  maxQueryChars: 2000,
  maxK: 50,
  maxContextK: 20,
  maxMetadataBytes: 16_384,
  defaultChunkSize: 1000,
  defaultChunkOverlap: 150,
};

export const SCOPE_KINDS = ['TENANT', 'USER', 'SESSION', 'AGENT'] as const;
export type ScopeKind = (typeof SCOPE_KINDS)[number];
export type ItemKind = 'MEMORY' | 'CHUNK';
export type RetrievalMode = 'HYBRID' | 'VECTOR' | 'KEYWORD';

export interface ScopeInput {
  kind: string;
  id?: string | null;
}

export interface CollectionRow {
  id: string;
  name: string;
  model: string;
  dimension: number;
  created_at: Date;
}

export interface ItemRow {
  id: string;
  kind: ItemKind;
  scope_kind: ScopeKind;
  scope_id: string;
  collection: string;
  content: string;
  metadata: Record<string, unknown>;
  document_id: string | null;
  ordinal: number | null;
  start_offset: number | null;
  end_offset: number | null;
  created_at: Date;
  cursor_ts: string;
}

export interface DocumentRow {
  id: string;
  scope_kind: ScopeKind;
  scope_id: string;
  collection: string;
  title: string;
  source: string | null;
  metadata: Record<string, unknown>;
  char_count: number;
  chunk_count: number;
  chunk_size: number;
  chunk_overlap: number;
  created_at: Date;
  cursor_ts: string;
}

export interface RecallFilterInput {
  metadata?: unknown;
  kinds?: readonly ItemKind[] | null;
  documentIds?: readonly string[] | null;
}

export interface RecallInput {
  query: string;
  k?: number | null;
  scopes?: readonly ScopeInput[] | null;
  collection?: string | null;
  mode?: RetrievalMode | null;
  filter?: RecallFilterInput | null;
  recencyHalfLifeHours?: number | null;
  recencyWeight?: number | null;
}

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

const TS = `to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
const ITEM_COLUMNS = `i.id, i.kind, i.scope_kind, i.scope_id, c.name AS collection, i.content, i.metadata,
  i.document_id, i.ordinal, i.start_offset, i.end_offset, i.created_at, ${TS.replace('%s', 'i.created_at')} AS cursor_ts`;
const DOCUMENT_COLUMNS = `d.id, d.scope_kind, d.scope_id, c.name AS collection, d.title, d.source, d.metadata,
  d.char_count, d.chunk_count, d.chunk_size, d.chunk_overlap, d.created_at, ${TS.replace('%s', 'd.created_at')} AS cursor_ts`;
const COLLECTION_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/**
 * Candidates each retriever hands to the fusion: its head only (2k, at least 20). Deeper lists
 * let RRF promote items that both retrievers rank mediocre over one ranked first by one of them;
 * with 50 per list, the labelled set (docs/memory.md) lost its best keyword hits that way.
 */
const CANDIDATES_PER_K = 2;
const MIN_CANDIDATES = 20;
const MAX_CANDIDATES = 100;

const badInput = (field: string, message: string, extra: Record<string, unknown> = {}) =>
  new SomaError('BAD_USER_INPUT', message, { field, ...extra });

/**
 * The memory domain: remember / recall / forget, documents chunked and embedded, and context
 * retrieval with citations. Texts are embedded before the transaction that stores them (nothing
 * is stored when embedding fails); items and their vectors are written in one transaction.
 * Every access runs inside `db.withScope` for the caller's tenant with `soma.user_id` set, so
 * row-level security hides other tenants' rows and other users' USER/SESSION rows.
 */
export class MemoryService {
  constructor(
    private readonly db: SqlDatabase,
    private readonly embedder: EmbeddingModel,
    private readonly index: VectorIndex,
    readonly limits: MemoryLimits = DEFAULT_MEMORY_LIMITS,
  ) {}

  // ------------------------------------------------------------------------------------------
  // writes

  async remember(
    claims: VerifiedClaims | null,
    input: { text: string; metadata?: unknown; scope?: ScopeInput | null; collection?: string | null },
  ): Promise<ItemRow> {
    const caller = requireCaller(claims, 'memory:write');
    const text = input.text.trim();
    if (text.length === 0) throw badInput('text', 'text is empty: give the memory some content');
    if (text.length > this.limits.maxMemoryChars) {
      throw badInput(
        'text',
        `text has ${text.length} characters; a memory holds at most ${this.limits.maxMemoryChars} (store longer texts with ingestDocument)`,
        { limit: this.limits.maxMemoryChars },
      );
    }
    const metadata = this.metadata(input.metadata, 'metadata');
    const scope = resolveScope(caller, input.scope);
    const name = collectionName(input.collection);
    await this.checkExistingCollection(caller, name);
    const [vector] = await this.embed([text]);
    return this.scoped(caller, async (tx) => {
      const collection = await this.ensureCollection(tx, caller, name);
      const { rows } = await tx.query<{ id: string }>(
        `INSERT INTO memory.items (tenant_id, collection_id, scope_kind, scope_id, owner_id, kind, content, metadata)
         VALUES ($1, $2, $3, $4, $5, 'MEMORY', $6, $7) RETURNING id`,
        [
          caller.tenantId,
          collection.id,
          scope.kind,
          scope.id,
          caller.subject,
          text,
          JSON.stringify(metadata),
        ],
      );
      const id = rows[0]!.id;
      await this.index.put(tx, collection, [{ itemId: id, vector: vector! }]);
      return (await this.itemsByIds(tx, [id]))[0]!;
    });
  }

  async ingestDocument(
    claims: VerifiedClaims | null,
    input: {
      title: string;
      text: string;
      source?: string | null;
      metadata?: unknown;
      scope?: ScopeInput | null;
      collection?: string | null;
      chunkSize?: number | null;
      chunkOverlap?: number | null;
    },
  ): Promise<DocumentRow> {
    const caller = requireCaller(claims, 'memory:write');
    const title = input.title.trim();
    if (title.length < 1 || title.length > 500) throw badInput('title', 'title must be 1-500 characters');
    if (input.text.trim().length === 0) throw badInput('text', 'text is empty: a document needs content');
    if (input.text.length > this.limits.maxDocumentChars) {
      throw badInput(
        'text',
        `text has ${input.text.length} characters; a document holds at most ${this.limits.maxDocumentChars}: split it into several documents`,
        { limit: this.limits.maxDocumentChars },
      );
    }
    if (input.source != null && input.source.length > 2000)
      throw badInput('source', 'source is limited to 2000 characters');
    const size = input.chunkSize ?? this.limits.defaultChunkSize;
    if (!Number.isInteger(size) || size < 100 || size > 8000) {
      throw badInput('chunkSize', 'chunkSize must be an integer between 100 and 8000 characters');
    }
    const overlap = input.chunkOverlap ?? Math.min(this.limits.defaultChunkOverlap, Math.floor(size / 2));
    if (!Number.isInteger(overlap) || overlap < 0 || overlap > size / 2) {
      throw badInput(
        'chunkOverlap',
        `chunkOverlap must be an integer between 0 and chunkSize/2 (${Math.floor(size / 2)})`,
      );
    }
    const metadata = this.metadata(input.metadata, 'metadata');
    const scope = resolveScope(caller, input.scope);
    const name = collectionName(input.collection);
    const chunks = chunkText(input.text, { size, overlap });
    if (chunks.length > this.limits.maxChunksPerDocument) {
      throw badInput(
        'chunkSize',
        `the document makes ${chunks.length} chunks of ${size} characters; at most ${this.limits.maxChunksPerDocument} are allowed: raise chunkSize or split the document`,
        { limit: this.limits.maxChunksPerDocument },
      );
    }
    await this.checkExistingCollection(caller, name);
    const vectors = await this.embed(chunks.map((c) => c.text));
    return this.scoped(caller, async (tx) => {
      const collection = await this.ensureCollection(tx, caller, name);
      const doc = await tx.query<{ id: string }>(
        `INSERT INTO memory.documents (tenant_id, collection_id, scope_kind, scope_id, owner_id, title, source,
                                       metadata, char_count, chunk_count, chunk_size, chunk_overlap)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
        [
          caller.tenantId,
          collection.id,
          scope.kind,
          scope.id,
          caller.subject,
          title,
          input.source ?? null,
          JSON.stringify(metadata),
          input.text.length,
          chunks.length,
          size,
          overlap,
        ],
      );
      const documentId = doc.rows[0]!.id;
      // Chunks inherit the document's metadata; their position is in ordinal/start/end.
      const { rows } = await tx.query<{ id: string; ordinal: number }>(
        `INSERT INTO memory.items (tenant_id, collection_id, scope_kind, scope_id, owner_id, kind, document_id,
                                   ordinal, start_offset, end_offset, content, metadata)
         SELECT $1, $2, $3, $4, $5, 'CHUNK', $6, o, s, e, t, $7::jsonb
           FROM unnest($8::int[], $9::int[], $10::int[], $11::text[]) AS u(o, s, e, t)
         RETURNING id, ordinal`,
        [
          caller.tenantId,
          collection.id,
          scope.kind,
          scope.id,
          caller.subject,
          documentId,
          JSON.stringify(metadata),
          chunks.map((c) => c.ordinal),
          chunks.map((c) => c.start),
          chunks.map((c) => c.end),
          chunks.map((c) => c.text),
        ],
      );
      await this.index.put(
        tx,
        collection,
        rows.map((r) => ({ itemId: r.id, vector: vectors[r.ordinal]! })),
      );
      return (await this.documentsByIds(tx, [documentId]))[0]!;
    });
  }

  /** Deletes MEMORY items (document chunks go with their document). Returns how many. */
  async forget(
    claims: VerifiedClaims | null,
    input: {
      ids?: readonly string[] | null;
      scope?: ScopeInput | null;
      metadata?: unknown;
      before?: string | null;
    },
  ): Promise<number> {
    const caller = requireCaller(claims, 'memory:write');
    const conditions: string[] = [`kind = 'MEMORY'`];
    const params: unknown[] = [];
    if (input.ids?.length) {
      if (input.ids.length > 1000) throw badInput('ids', 'at most 1000 ids per call');
      conditions.push(`id = ANY($${params.push(input.ids.filter((id) => UUID.test(id)))}::uuid[])`);
    } else if (!input.scope) {
      throw badInput('scope', 'forget needs ids or a scope (with an optional metadata filter and before)');
    }
    if (input.scope) {
      const s = scopeCondition([resolveScope(caller, input.scope)], params.length + 1);
      conditions.push(s.sql);
      params.push(...s.params);
    }
    if (input.metadata != null)
      conditions.push(
        `metadata @> $${params.push(JSON.stringify(this.metadata(input.metadata, 'metadata')))}::jsonb`,
      );
    if (input.before != null) {
      if (Number.isNaN(Date.parse(input.before)))
        throw badInput('before', 'before must be an ISO 8601 timestamp');
      conditions.push(`created_at < $${params.push(input.before)}::timestamptz`);
    }
    return this.scoped(caller, async (tx) => {
      const r = await tx.query(`DELETE FROM memory.items WHERE ${conditions.join(' AND ')}`, params);
      return r.rowCount;
    });
  }

  async deleteDocument(claims: VerifiedClaims | null, id: string): Promise<boolean> {
    const caller = requireCaller(claims, 'memory:write');
    if (!UUID.test(id)) return false;
    return this.scoped(caller, async (tx) => {
      const r = await tx.query('DELETE FROM memory.documents WHERE id = $1', [id]);
      return r.rowCount > 0;
    });
  }

  // ------------------------------------------------------------------------------------------
  // retrieval

  async recall(claims: VerifiedClaims | null, input: RecallInput): Promise<Hit[]> {
    return this.search(requireCaller(claims, 'memory:read'), input, this.limits.maxK);
  }

  async retrieveContext(
    claims: VerifiedClaims | null,
    input: {
      question: string;
      k?: number | null;
      scopes?: readonly ScopeInput[] | null;
      collection?: string | null;
      filter?: RecallFilterInput | null;
      maxChars?: number | null;
    },
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
    const titles = await this.scoped(caller, async (tx) =>
      this.documentTitles(
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
    const scopes = (input.scopes?.length ? input.scopes : [{ kind: 'USER' }]).map((s) =>
      resolveScope(caller, s),
    );
    if (scopes.length > 10) throw badInput('scopes', 'at most 10 scopes per search');
    const filter = this.filter(input.filter);
    const halfLife = input.recencyHalfLifeHours ?? 0;
    const weight = input.recencyWeight ?? 0.3;
    if (!(halfLife >= 0)) throw badInput('recencyHalfLifeHours', 'recencyHalfLifeHours must be 0 or more');
    if (!(weight >= 0 && weight <= 1))
      throw badInput('recencyWeight', 'recencyWeight must be between 0 and 1');
    const name = collectionName(input.collection);

    const collection = await this.scoped(caller, (tx) => this.collection(tx, name));
    if (!collection) return [];
    this.checkModel(collection);
    const candidates =
      mode === 'HYBRID'
        ? Math.min(MAX_CANDIDATES, Math.max(MIN_CANDIDATES, k * CANDIDATES_PER_K))
        : k * (halfLife > 0 ? CANDIDATES_PER_K : 1);
    const vector = mode === 'KEYWORD' ? null : (await this.embed([query]))[0]!;

    return this.scoped(caller, async (tx) => {
      const vectorHits = vector
        ? await this.index.nearest(tx, { collection, vector, k: candidates, scopes, filter })
        : [];
      const keywordHits =
        mode === 'VECTOR' ? [] : await this.keyword(tx, collection, query, candidates, scopes, filter);
      const vectorRank = new Map(vectorHits.map((h, i) => [h.itemId, i + 1]));
      const similarity = new Map(vectorHits.map((h) => [h.itemId, 1 - h.distance]));
      const keywordRank = new Map(keywordHits.map((h, i) => [h.id, i + 1]));
      let scored: { id: string; score: number }[];
      if (mode === 'HYBRID')
        scored = fuseRankings([vectorHits.map((h) => h.itemId), keywordHits.map((h) => h.id)]);
      else if (mode === 'VECTOR') scored = vectorHits.map((h) => ({ id: h.itemId, score: 1 - h.distance }));
      else scored = keywordHits.map((h) => ({ id: h.id, score: h.rank }));
      if (halfLife > 0 && scored.length) {
        const { rows } = await tx.query<{ id: string; age_ms: number }>(
          `SELECT id, (extract(epoch FROM (now() - created_at)) * 1000)::float8 AS age_ms
             FROM memory.items WHERE id = ANY($1::uuid[])`,
          [scored.map((s) => s.id)],
        );
        const age = new Map(rows.map((r) => [r.id, Number(r.age_ms)]));
        const halfLifeMs = halfLife * 3_600_000;
        scored = scored
          .map((s) => ({ id: s.id, score: s.score * recencyFactor(age.get(s.id) ?? 0, halfLifeMs, weight) }))
          .sort((a, b) => b.score - a.score);
      }
      const top = scored.slice(0, k);
      const rows = new Map(
        (
          await this.itemsByIds(
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

  /**
   * PostgreSQL full text: the query's lexemes OR-ed (a passage need not contain every word, as
   * with BM25), ranked by ts_rank with length normalisation (rank / (1 + log(length))).
   */
  private async keyword(
    tx: SqlExecutor,
    collection: VectorCollection,
    query: string,
    k: number,
    scopes: readonly ScopeKey[],
    filter: ItemFilter,
  ): Promise<{ id: string; rank: number }[]> {
    const params: unknown[] = [query, collection.id, k];
    const scope = scopeCondition(scopes, params.length + 1, 'i');
    params.push(...scope.params);
    const conditions = this.filterConditions(filter, params);
    const { rows } = await tx.query<{ id: string; rank: number }>(
      `WITH q AS (SELECT replace(plainto_tsquery('english', $1)::text, ' & ', ' | ')::tsquery AS q)
       SELECT i.id, ts_rank(i.tsv, q.q, 1) AS rank
         FROM memory.items i, q
        WHERE i.collection_id = $2 AND ${scope.sql} AND i.tsv @@ q.q ${conditions}
        ORDER BY rank DESC, i.created_at DESC, i.id
        LIMIT $3`,
      params,
    );
    return rows.map((r) => ({ id: r.id, rank: Number(r.rank) }));
  }

  // ------------------------------------------------------------------------------------------
  // listings

  async memories(
    claims: VerifiedClaims | null,
    args: { scope?: ScopeInput | null; kind?: ItemKind | null; first?: number | null; after?: string | null },
  ): Promise<Connection<ItemRow>> {
    const caller = requireCaller(claims, 'memory:read');
    const { first, after } = pageArgs(args);
    const scope = resolveScope(caller, args.scope);
    return this.scoped(caller, async (tx) => {
      const params: unknown[] = [scope.kind, scope.id, args.kind ?? null];
      const where = `i.scope_kind = $1 AND i.scope_id = $2 AND ($3::text IS NULL OR i.kind = $3)`;
      const { rows } = await tx.query<ItemRow>(
        `SELECT ${ITEM_COLUMNS} FROM memory.items i JOIN memory.collections c ON c.id = i.collection_id
          WHERE ${where} AND ($4::timestamptz IS NULL OR (i.created_at, i.id) < ($4::timestamptz, $5::uuid))
          ORDER BY i.created_at DESC, i.id DESC LIMIT $6`,
        [...params, after?.createdAt ?? null, after?.id ?? null, first + 1],
      );
      const total = await tx.query<{ n: string }>(
        `SELECT count(*) AS n FROM memory.items i WHERE ${where}`,
        params,
      );
      return toConnection(rows, first, Number(total.rows[0]!.n), (r) => r);
    });
  }

  async documents(
    claims: VerifiedClaims | null,
    args: { scope?: ScopeInput | null; first?: number | null; after?: string | null },
  ): Promise<Connection<DocumentRow>> {
    const caller = requireCaller(claims, 'memory:read');
    const { first, after } = pageArgs(args);
    const scope = resolveScope(caller, args.scope);
    return this.scoped(caller, async (tx) => {
      const { rows } = await tx.query<DocumentRow>(
        `SELECT ${DOCUMENT_COLUMNS} FROM memory.documents d JOIN memory.collections c ON c.id = d.collection_id
          WHERE d.scope_kind = $1 AND d.scope_id = $2
            AND ($3::timestamptz IS NULL OR (d.created_at, d.id) < ($3::timestamptz, $4::uuid))
          ORDER BY d.created_at DESC, d.id DESC LIMIT $5`,
        [scope.kind, scope.id, after?.createdAt ?? null, after?.id ?? null, first + 1],
      );
      const total = await tx.query<{ n: string }>(
        'SELECT count(*) AS n FROM memory.documents WHERE scope_kind = $1 AND scope_id = $2',
        [scope.kind, scope.id],
      );
      return toConnection(rows, first, Number(total.rows[0]!.n), (r) => r);
    });
  }

  async document(claims: VerifiedClaims | null, id: string): Promise<DocumentRow> {
    const doc = await this.documentById(claims, id);
    if (!doc) throw new SomaError('NOT_FOUND', `memory document ${clip(id)} not found`);
    return doc;
  }

  async documentById(claims: VerifiedClaims | null, id: string): Promise<DocumentRow | null> {
    const caller = requireCaller(claims, 'memory:read');
    if (!UUID.test(id)) return null;
    return this.scoped(caller, async (tx) => (await this.documentsByIds(tx, [id]))[0] ?? null);
  }

  async itemById(claims: VerifiedClaims | null, id: string): Promise<ItemRow | null> {
    const caller = requireCaller(claims, 'memory:read');
    if (!UUID.test(id)) return null;
    return this.scoped(caller, async (tx) => (await this.itemsByIds(tx, [id]))[0] ?? null);
  }

  /** Chunks of a document in order; the cursor is the chunk's ordinal. */
  async chunks(
    claims: VerifiedClaims | null,
    documentId: string,
    args: { first?: number | null; after?: string | null },
  ): Promise<Connection<ItemRow>> {
    const caller = requireCaller(claims, 'memory:read');
    const { first } = pageArgs({ first: args.first });
    const after = args.after == null ? -1 : decodeOrdinal(args.after);
    return this.scoped(caller, async (tx) => {
      const { rows } = await tx.query<ItemRow>(
        `SELECT ${ITEM_COLUMNS} FROM memory.items i JOIN memory.collections c ON c.id = i.collection_id
          WHERE i.document_id = $1 AND i.ordinal > $2 ORDER BY i.ordinal LIMIT $3`,
        [documentId, after, first + 1],
      );
      const total = await tx.query<{ n: string }>(
        'SELECT count(*) AS n FROM memory.items WHERE document_id = $1',
        [documentId],
      );
      const page = rows.slice(0, first);
      const edges = page.map((r) => ({ cursor: encodeOrdinal(r.ordinal!), node: r }));
      return {
        edges,
        pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null },
        totalCount: Number(total.rows[0]!.n),
      };
    });
  }

  async collections(claims: VerifiedClaims | null): Promise<CollectionRow[]> {
    const caller = requireCaller(claims, 'memory:read');
    return this.scoped(caller, async (tx) => {
      const { rows } = await tx.query<CollectionRow>(
        'SELECT id, name, model, dimension, created_at FROM memory.collections ORDER BY name',
      );
      return rows;
    });
  }

  // ------------------------------------------------------------------------------------------
  // helpers

  /** A transaction for the caller's tenant with `soma.user_id` set for the scope policies. */
  private scoped<T>(caller: Caller, work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.db.withScope({ tenantId: caller.tenantId }, async (tx) => {
      await tx.query(`SELECT set_config('soma.user_id', $1, true)`, [caller.subject]);
      return work(tx);
    });
  }

  private async embed(texts: string[]): Promise<number[][]> {
    try {
      return await this.embedder.embed(texts);
    } catch (error) {
      if (error instanceof EmbeddingError) {
        if (error.reason === 'UNAVAILABLE') {
          throw new SomaError('UNAVAILABLE', `${error.message}; nothing was stored`, { retriable: true });
        }
        if (error.reason === 'DIMENSION_MISMATCH') {
          throw new SomaError('CONFLICT', `${error.message}; nothing was stored`, {
            model: this.embedder.model,
            dimension: this.embedder.dimension,
          });
        }
        throw new SomaError('BAD_USER_INPUT', error.message);
      }
      throw error;
    }
  }

  private async collection(tx: SqlExecutor, name: string): Promise<CollectionRow | null> {
    const { rows } = await tx.query<CollectionRow>(
      'SELECT id, name, model, dimension, created_at FROM memory.collections WHERE name = $1',
      [name],
    );
    return rows[0] ?? null;
  }

  /** Fails before any embedding work when the collection exists with another model. */
  private async checkExistingCollection(caller: Caller, name: string): Promise<void> {
    const existing = await this.scoped(caller, (tx) => this.collection(tx, name));
    if (existing) this.checkModel(existing);
  }

  private async ensureCollection(tx: SqlExecutor, caller: Caller, name: string): Promise<CollectionRow> {
    await tx.query(
      `INSERT INTO memory.collections (tenant_id, name, model, dimension) VALUES ($1, $2, $3, $4)
       ON CONFLICT (tenant_id, name) DO NOTHING`,
      [caller.tenantId, name, this.embedder.model, this.embedder.dimension],
    );
    const collection = (await this.collection(tx, name))!;
    this.checkModel(collection);
    return collection;
  }

  private checkModel(collection: CollectionRow): void {
    if (collection.model !== this.embedder.model || collection.dimension !== this.embedder.dimension) {
      throw new SomaError(
        'CONFLICT',
        `collection "${collection.name}" holds ${collection.dimension}-dimensional vectors of model "${collection.model}", but this server embeds with "${this.embedder.model}" (${this.embedder.dimension} dimensions): configure that model again, or use another collection`,
        {
          collection: collection.name,
          collectionModel: collection.model,
          collectionDimension: collection.dimension,
          serverModel: this.embedder.model,
          serverDimension: this.embedder.dimension,
        },
      );
    }
  }

  private metadata(value: unknown, field: string): Record<string, unknown> {
    if (value == null) return {};
    if (typeof value !== 'object' || Array.isArray(value))
      throw badInput(field, `${field} must be a JSON object`);
    const size = Buffer.byteLength(JSON.stringify(value));
    if (size > this.limits.maxMetadataBytes) {
      throw badInput(field, `${field} is ${size} bytes serialized; at most ${this.limits.maxMetadataBytes}`, {
        limit: this.limits.maxMetadataBytes,
      });
    }
    return value as Record<string, unknown>;
  }

  private filter(input: RecallFilterInput | null | undefined): ItemFilter {
    if (!input) return {};
    const filter: ItemFilter = {};
    if (input.metadata != null) filter.metadata = this.metadata(input.metadata, 'filter.metadata');
    if (input.kinds?.length) filter.kinds = input.kinds;
    if (input.documentIds?.length) {
      const bad = input.documentIds.find((id) => !UUID.test(id));
      if (bad) throw badInput('filter.documentIds', `"${clip(bad)}" is not a document id`);
      filter.documentIds = input.documentIds;
    }
    return filter;
  }

  private filterConditions(filter: ItemFilter, params: unknown[]): string {
    const c: string[] = [];
    if (filter.kinds?.length) c.push(`i.kind = ANY($${params.push(filter.kinds)}::text[])`);
    if (filter.documentIds?.length)
      c.push(`i.document_id = ANY($${params.push(filter.documentIds)}::uuid[])`);
    if (filter.metadata) c.push(`i.metadata @> $${params.push(JSON.stringify(filter.metadata))}::jsonb`);
    return c.map((x) => `AND ${x}`).join(' ');
  }

  private async itemsByIds(tx: SqlExecutor, ids: readonly string[]): Promise<ItemRow[]> {
    if (ids.length === 0) return [];
    const { rows } = await tx.query<ItemRow>(
      `SELECT ${ITEM_COLUMNS} FROM memory.items i JOIN memory.collections c ON c.id = i.collection_id
        WHERE i.id = ANY($1::uuid[])`,
      [ids],
    );
    return rows;
  }

  private async documentsByIds(tx: SqlExecutor, ids: readonly string[]): Promise<DocumentRow[]> {
    const { rows } = await tx.query<DocumentRow>(
      `SELECT ${DOCUMENT_COLUMNS} FROM memory.documents d JOIN memory.collections c ON c.id = d.collection_id
        WHERE d.id = ANY($1::uuid[])`,
      [ids],
    );
    return rows;
  }

  private async documentTitles(tx: SqlExecutor, ids: readonly string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const { rows } = await tx.query<{ id: string; title: string }>(
      'SELECT id, title FROM memory.documents WHERE id = ANY($1::uuid[])',
      [[...new Set(ids)]],
    );
    return new Map(rows.map((r) => [r.id, r.title]));
  }
}

/** The stored scope for a requested one; USER is always the caller. */
export function resolveScope(caller: Caller, input: ScopeInput | null | undefined): ScopeKey {
  const kind = input?.kind ?? 'USER';
  const id = input?.id ?? null;
  if (!(SCOPE_KINDS as readonly string[]).includes(kind)) {
    throw badInput('scope.kind', `unknown scope "${clip(kind)}"; known scopes: ${SCOPE_KINDS.join(', ')}`);
  }
  switch (kind as ScopeKind) {
    case 'TENANT':
      if (id !== null) throw badInput('scope.id', "a TENANT scope takes no id (it is the caller's tenant)");
      return { kind: 'TENANT', id: '' };
    case 'USER':
      if (id !== null && id !== caller.subject) {
        throw new SomaError(
          'FORBIDDEN',
          "a USER scope is the caller's own: another user's memories cannot be reached",
          {
            field: 'scope.id',
          },
        );
      }
      return { kind: 'USER', id: caller.subject };
    default:
      if (id === null || id.trim().length === 0 || id.length > 200) {
        throw badInput(
          'scope.id',
          `a ${kind} scope needs an id of 1-200 characters (the ${kind.toLowerCase()}'s id)`,
        );
      }
      return { kind: kind as ScopeKind, id };
  }
}

function collectionName(name: string | null | undefined): string {
  const n = name ?? 'default';
  if (!COLLECTION_NAME.test(n)) {
    throw badInput('collection', 'collection names are 1-100 characters: letters, digits, _ . - (not first)');
  }
  return n;
}

const encodeOrdinal = (o: number) => Buffer.from(JSON.stringify(['chunk', o])).toString('base64url');

function decodeOrdinal(cursor: string): number {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v[0] === 'chunk' && Number.isInteger(v[1])) return v[1] as number;
  } catch {
    // typed error below
  }
  throw badInput('after', 'argument "after" is not a cursor returned by this field');
}

export type { MemoryCapability };
