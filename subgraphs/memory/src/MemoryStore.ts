import type { Cursor } from '@somaagent/pagination';
import type { SqlDatabase, SqlExecutor } from '@somaagent/ports';
import type { Caller } from './capabilities';
import type { Chunk } from './chunkText';
import type { ScopeKind } from './inputChecks';
import { scopeCondition } from './PgVectorIndex';
import type { ItemFilter, ScopeKey, VectorCollection } from './VectorIndex';

export type ItemKind = 'MEMORY' | 'CHUNK';

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

/** A document as ingestDocument has checked it, before its rows exist. */
export interface NewDocument {
  scope: ScopeKey;
  title: string;
  source: string | null;
  metadata: Record<string, unknown>;
  charCount: number;
  chunkSize: number;
  chunkOverlap: number;
}

/** What forget deletes: MEMORY items matching every condition given. */
export interface MemorySelection {
  /** Already stripped of strings that are no uuid. */
  ids?: readonly string[];
  scope?: ScopeKey;
  /** JSON containment (`@>`). */
  metadata?: Record<string, unknown>;
  /** ISO 8601 */
  before?: string;
}

/** A page of rows, newest first, and the total of the listing. */
export interface RowPage<R> {
  rows: R[];
  total: number;
}

const TS = `to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
const ITEM_COLUMNS = `i.id, i.kind, i.scope_kind, i.scope_id, c.name AS collection, i.content, i.metadata,
  i.document_id, i.ordinal, i.start_offset, i.end_offset, i.created_at, ${TS.replace('%s', 'i.created_at')} AS cursor_ts`;
const DOCUMENT_COLUMNS = `d.id, d.scope_kind, d.scope_id, c.name AS collection, d.title, d.source, d.metadata,
  d.char_count, d.chunk_count, d.chunk_size, d.chunk_overlap, d.created_at, ${TS.replace('%s', 'd.created_at')} AS cursor_ts`;

/**
 * The memory domain's rows and every SQL statement on them (memory.collections, items,
 * documents); vectors go through the VectorIndex. Inputs are checked by the callers: this
 * store only builds statements. Every access runs inside `scoped`, so row-level security
 * hides other tenants' rows and other users' USER/SESSION rows.
 */
export class MemoryStore {
  constructor(private readonly db: SqlDatabase) {}

  /** A transaction for the caller's tenant with `soma.user_id` set for the scope policies. */
  scoped<T>(caller: Caller, work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.db.withScope({ tenantId: caller.tenantId }, async (tx) => {
      await tx.query(`SELECT set_config('soma.user_id', $1, true)`, [caller.subject]);
      return work(tx);
    });
  }

  // ------------------------------------------------------------------------------------------
  // collections

  async collection(tx: SqlExecutor, name: string): Promise<CollectionRow | null> {
    const { rows } = await tx.query<CollectionRow>(
      'SELECT id, name, model, dimension, created_at FROM memory.collections WHERE name = $1',
      [name],
    );
    return rows[0] ?? null;
  }

  /** The named collection, created for `model` if the tenant has none of that name. */
  async ensureCollection(
    tx: SqlExecutor,
    caller: Caller,
    name: string,
    model: { model: string; dimension: number },
  ): Promise<CollectionRow> {
    await tx.query(
      `INSERT INTO memory.collections (tenant_id, name, model, dimension) VALUES ($1, $2, $3, $4)
       ON CONFLICT (tenant_id, name) DO NOTHING`,
      [caller.tenantId, name, model.model, model.dimension],
    );
    return (await this.collection(tx, name))!;
  }

  async collections(tx: SqlExecutor): Promise<CollectionRow[]> {
    const { rows } = await tx.query<CollectionRow>(
      'SELECT id, name, model, dimension, created_at FROM memory.collections ORDER BY name',
    );
    return rows;
  }

  // ------------------------------------------------------------------------------------------
  // writes

  async insertMemory(
    tx: SqlExecutor,
    caller: Caller,
    collection: VectorCollection,
    scope: ScopeKey,
    text: string,
    metadata: Record<string, unknown>,
  ): Promise<string> {
    const { rows } = await tx.query<{ id: string }>(
      `INSERT INTO memory.items (tenant_id, collection_id, scope_kind, scope_id, owner_id, kind, content, metadata)
       VALUES ($1, $2, $3, $4, $5, 'MEMORY', $6, $7) RETURNING id`,
      [caller.tenantId, collection.id, scope.kind, scope.id, caller.subject, text, JSON.stringify(metadata)],
    );
    return rows[0]!.id;
  }

  /** The document's row and one CHUNK item per chunk; returns the document id and each chunk's item id. */
  async insertDocument(
    tx: SqlExecutor,
    caller: Caller,
    collection: VectorCollection,
    doc: NewDocument,
    chunks: readonly Chunk[],
  ): Promise<{ documentId: string; chunkIds: { id: string; ordinal: number }[] }> {
    const inserted = await tx.query<{ id: string }>(
      `INSERT INTO memory.documents (tenant_id, collection_id, scope_kind, scope_id, owner_id, title, source,
                                     metadata, char_count, chunk_count, chunk_size, chunk_overlap)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
      [
        caller.tenantId,
        collection.id,
        doc.scope.kind,
        doc.scope.id,
        caller.subject,
        doc.title,
        doc.source,
        JSON.stringify(doc.metadata),
        doc.charCount,
        chunks.length,
        doc.chunkSize,
        doc.chunkOverlap,
      ],
    );
    const documentId = inserted.rows[0]!.id;
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
        doc.scope.kind,
        doc.scope.id,
        caller.subject,
        documentId,
        JSON.stringify(doc.metadata),
        chunks.map((c) => c.ordinal),
        chunks.map((c) => c.start),
        chunks.map((c) => c.end),
        chunks.map((c) => c.text),
      ],
    );
    return { documentId, chunkIds: rows };
  }

  /** Deletes the MEMORY items selected (document chunks go with their document); returns how many. */
  async deleteMemories(tx: SqlExecutor, selection: MemorySelection): Promise<number> {
    const conditions: string[] = [`kind = 'MEMORY'`];
    const params: unknown[] = [];
    if (selection.ids) conditions.push(`id = ANY($${params.push(selection.ids)}::uuid[])`);
    if (selection.scope) {
      const s = scopeCondition([selection.scope], params.length + 1);
      conditions.push(s.sql);
      params.push(...s.params);
    }
    if (selection.metadata)
      conditions.push(`metadata @> $${params.push(JSON.stringify(selection.metadata))}::jsonb`);
    if (selection.before !== undefined)
      conditions.push(`created_at < $${params.push(selection.before)}::timestamptz`);
    const r = await tx.query(`DELETE FROM memory.items WHERE ${conditions.join(' AND ')}`, params);
    return r.rowCount;
  }

  async deleteDocument(tx: SqlExecutor, id: string): Promise<boolean> {
    const r = await tx.query('DELETE FROM memory.documents WHERE id = $1', [id]);
    return r.rowCount > 0;
  }

  // ------------------------------------------------------------------------------------------
  // reads

  async itemsByIds(tx: SqlExecutor, ids: readonly string[]): Promise<ItemRow[]> {
    if (ids.length === 0) return [];
    const { rows } = await tx.query<ItemRow>(
      `SELECT ${ITEM_COLUMNS} FROM memory.items i JOIN memory.collections c ON c.id = i.collection_id
        WHERE i.id = ANY($1::uuid[])`,
      [ids],
    );
    return rows;
  }

  async documentsByIds(tx: SqlExecutor, ids: readonly string[]): Promise<DocumentRow[]> {
    const { rows } = await tx.query<DocumentRow>(
      `SELECT ${DOCUMENT_COLUMNS} FROM memory.documents d JOIN memory.collections c ON c.id = d.collection_id
        WHERE d.id = ANY($1::uuid[])`,
      [ids],
    );
    return rows;
  }

  async documentTitles(tx: SqlExecutor, ids: readonly string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const { rows } = await tx.query<{ id: string; title: string }>(
      'SELECT id, title FROM memory.documents WHERE id = ANY($1::uuid[])',
      [[...new Set(ids)]],
    );
    return new Map(rows.map((r) => [r.id, r.title]));
  }

  /** Milliseconds since each item was stored, for the recency weight. */
  async ages(tx: SqlExecutor, ids: readonly string[]): Promise<Map<string, number>> {
    const { rows } = await tx.query<{ id: string; age_ms: number }>(
      `SELECT id, (extract(epoch FROM (now() - created_at)) * 1000)::float8 AS age_ms
         FROM memory.items WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    return new Map(rows.map((r) => [r.id, Number(r.age_ms)]));
  }

  /**
   * PostgreSQL full text: the query's lexemes OR-ed (a passage need not contain every word, as
   * with BM25), ranked by ts_rank with length normalisation (rank / (1 + log(length))).
   */
  async keyword(
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
    const conditions = filterConditions(filter, params);
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

  /** Items of one scope (and kind), newest first, from the keyset `after`. */
  async listItems(
    tx: SqlExecutor,
    scope: ScopeKey,
    kind: ItemKind | null,
    after: Cursor | null,
    limit: number,
  ): Promise<RowPage<ItemRow>> {
    const params: unknown[] = [scope.kind, scope.id, kind];
    const where = `i.scope_kind = $1 AND i.scope_id = $2 AND ($3::text IS NULL OR i.kind = $3)`;
    const { rows } = await tx.query<ItemRow>(
      `SELECT ${ITEM_COLUMNS} FROM memory.items i JOIN memory.collections c ON c.id = i.collection_id
        WHERE ${where} AND ($4::timestamptz IS NULL OR (i.created_at, i.id) < ($4::timestamptz, $5::uuid))
        ORDER BY i.created_at DESC, i.id DESC LIMIT $6`,
      [...params, after?.createdAt ?? null, after?.id ?? null, limit],
    );
    const total = await tx.query<{ n: string }>(
      `SELECT count(*) AS n FROM memory.items i WHERE ${where}`,
      params,
    );
    return { rows, total: Number(total.rows[0]!.n) };
  }

  /** Documents of one scope, newest first, from the keyset `after`. */
  async listDocuments(
    tx: SqlExecutor,
    scope: ScopeKey,
    after: Cursor | null,
    limit: number,
  ): Promise<RowPage<DocumentRow>> {
    const { rows } = await tx.query<DocumentRow>(
      `SELECT ${DOCUMENT_COLUMNS} FROM memory.documents d JOIN memory.collections c ON c.id = d.collection_id
        WHERE d.scope_kind = $1 AND d.scope_id = $2
          AND ($3::timestamptz IS NULL OR (d.created_at, d.id) < ($3::timestamptz, $4::uuid))
        ORDER BY d.created_at DESC, d.id DESC LIMIT $5`,
      [scope.kind, scope.id, after?.createdAt ?? null, after?.id ?? null, limit],
    );
    const total = await tx.query<{ n: string }>(
      'SELECT count(*) AS n FROM memory.documents WHERE scope_kind = $1 AND scope_id = $2',
      [scope.kind, scope.id],
    );
    return { rows, total: Number(total.rows[0]!.n) };
  }

  /** Chunks of a document in order, after the ordinal `after`. */
  async listChunks(
    tx: SqlExecutor,
    documentId: string,
    after: number,
    limit: number,
  ): Promise<RowPage<ItemRow>> {
    const { rows } = await tx.query<ItemRow>(
      `SELECT ${ITEM_COLUMNS} FROM memory.items i JOIN memory.collections c ON c.id = i.collection_id
        WHERE i.document_id = $1 AND i.ordinal > $2 ORDER BY i.ordinal LIMIT $3`,
      [documentId, after, limit],
    );
    const total = await tx.query<{ n: string }>(
      'SELECT count(*) AS n FROM memory.items WHERE document_id = $1',
      [documentId],
    );
    return { rows, total: Number(total.rows[0]!.n) };
  }
}

function filterConditions(filter: ItemFilter, params: unknown[]): string {
  const c: string[] = [];
  if (filter.kinds?.length) c.push(`i.kind = ANY($${params.push(filter.kinds)}::text[])`);
  if (filter.documentIds?.length) c.push(`i.document_id = ANY($${params.push(filter.documentIds)}::uuid[])`);
  if (filter.metadata) c.push(`i.metadata @> $${params.push(JSON.stringify(filter.metadata))}::jsonb`);
  return c.map((x) => `AND ${x}`).join(' ');
}
