import type { SqlExecutor } from '@somaagent/ports';
import type {
  NearestQuery,
  ScopeKey,
  VectorCollection,
  VectorEntry,
  VectorHit,
  VectorIndex,
} from './VectorIndex';

/** Dimensions with a partial HNSW index in migration 001 (expression `embedding::vector(d)`). */
export const HNSW_DIMENSIONS: ReadonlySet<number> = new Set([384, 512]);

export interface PgVectorIndexOptions {
  /**
   * HNSW candidate list size; raised to the query's k. Higher is slower and more exact.
   * @default 100
   */
  efSearch?: number;
}

const literal = (v: readonly number[]) => `[${v.join(',')}]`;

/** `(scope_kind, scope_id) IN (...)` for the given scopes, with parameters from `$offset`. */
export function scopeCondition(
  scopes: readonly ScopeKey[],
  offset: number,
  alias = '',
): { sql: string; params: unknown[] } {
  const col = alias ? `${alias}.` : '';
  // Two text arrays: the pairs are matched as rows, so (USER, a) never matches (SESSION, a).
  return {
    sql: `(${col}scope_kind, ${col}scope_id) IN (SELECT * FROM unnest($${offset}::text[], $${offset + 1}::text[]))`,
    params: [scopes.map((s) => s.kind), scopes.map((s) => s.id)],
  };
}

/**
 * pgvector in the memory schema (`memory.embeddings`). Cosine distance (`<=>`). For dimensions
 * with an HNSW index the query orders by the indexed expression and turns on pgvector 0.8's
 * iterative scan, so the scope and row-level-security filters applied after the index still
 * yield k rows; other dimensions are searched exactly.
 */
export class PgVectorIndex implements VectorIndex {
  readonly kind = 'pgvector';
  private readonly efSearch: number;

  constructor(options: PgVectorIndexOptions = {}) {
    this.efSearch = options.efSearch ?? 100;
  }

  async put(tx: SqlExecutor, collection: VectorCollection, entries: readonly VectorEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await tx.query(
      `INSERT INTO memory.embeddings
              (item_id, tenant_id, collection_id, scope_kind, scope_id, owner_id, dimension, embedding)
       SELECT i.id, i.tenant_id, i.collection_id, i.scope_kind, i.scope_id, i.owner_id, $2, u.v::vector
         FROM unnest($1::uuid[], $3::text[]) AS u(id, v)
         JOIN memory.items i ON i.id = u.id AND i.collection_id = $4`,
      [
        entries.map((e) => e.itemId),
        collection.dimension,
        entries.map((e) => literal(e.vector)),
        collection.id,
      ],
    );
  }

  async nearest(tx: SqlExecutor, query: NearestQuery): Promise<VectorHit[]> {
    if (query.scopes.length === 0 || query.k <= 0) return [];
    const d = query.collection.dimension;
    const indexed = (query.approximate ?? true) && HNSW_DIMENSIONS.has(d);
    // d is an integer from the collections table, never user text; inlined so that the planner
    // can match the partial index's `WHERE dimension = d`.
    const expr = indexed ? `embedding::vector(${d})` : 'embedding';
    const q = indexed ? `$1::vector(${d})` : '$1::vector';
    if (indexed) {
      await tx.query(
        `SELECT set_config('hnsw.ef_search', $1, true), set_config('hnsw.iterative_scan', 'strict_order', true)`,
        [String(Math.max(this.efSearch, query.k))],
      );
    }
    const scope = scopeCondition(query.scopes, 4, 'e');
    const params: unknown[] = [literal(query.vector), query.collection.id, query.k, ...scope.params];
    const itemConditions: string[] = [];
    const f = query.filter;
    if (f?.kinds?.length) itemConditions.push(`i.kind = ANY($${params.push(f.kinds)}::text[])`);
    if (f?.documentIds?.length)
      itemConditions.push(`i.document_id = ANY($${params.push(f.documentIds)}::uuid[])`);
    if (f?.metadata) itemConditions.push(`i.metadata @> $${params.push(JSON.stringify(f.metadata))}::jsonb`);
    const { rows } = await tx.query<{ item_id: string; distance: number }>(
      `SELECT e.item_id, e.${expr} <=> ${q} AS distance
         FROM memory.embeddings e
        WHERE e.collection_id = $2 AND e.dimension = ${Number(d)} AND ${scope.sql}
          ${itemConditions.length ? `AND EXISTS (SELECT 1 FROM memory.items i WHERE i.id = e.item_id AND ${itemConditions.join(' AND ')})` : ''}
        ORDER BY e.${expr} <=> ${q}
        LIMIT $3`,
      params,
    );
    return rows.map((r) => ({ itemId: r.item_id, distance: Number(r.distance) }));
  }
}
