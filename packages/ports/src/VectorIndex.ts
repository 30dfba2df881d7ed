import type { SqlExecutor } from './SqlDatabase';

/** Which rows a search may return, beyond what row-level security already hides. */
export interface ScopeKey {
  kind: 'TENANT' | 'USER' | 'SESSION' | 'AGENT';
  /** '' for TENANT. */
  id: string;
}

export interface ItemFilter {
  kinds?: readonly ('MEMORY' | 'CHUNK')[];
  documentIds?: readonly string[];
  /** JSON containment (`@>`). */
  metadata?: Record<string, unknown>;
}

export interface VectorCollection {
  id: string;
  dimension: number;
}

export interface VectorEntry {
  itemId: string;
  vector: readonly number[];
}

export interface VectorHit {
  itemId: string;
  /** Cosine distance, 0 (same direction) .. 2. */
  distance: number;
}

export interface NearestQuery {
  collection: VectorCollection;
  vector: readonly number[];
  k: number;
  /** Any of these scopes. */
  scopes: readonly ScopeKey[];
  /** Only items that also match these (kinds, documents, metadata containment). */
  filter?: ItemFilter;
  /**
   * true: walk the approximate (HNSW) index where one covers the dimension; false: exact scan.
   * @default true
   */
  approximate?: boolean;
}

/**
 * Vector index port. It works inside the caller's transaction (`tx`), so an item and its vector
 * are stored, or rolled back, together: a failed write leaves nothing half-stored. Adapters:
 * PgVectorIndex (pgvector, on the PostgreSQL server and in PGlite). A Qdrant adapter would
 * need a two-phase write; see docs/memory.md.
 */
export interface VectorIndex {
  readonly kind: string;
  /** Stores the vectors of items inserted earlier in this transaction (scope copied from the item). */
  put(tx: SqlExecutor, collection: VectorCollection, entries: readonly VectorEntry[]): Promise<void>;
  /** The `k` nearest items by cosine distance, nearest first, among `scopes`. */
  nearest(tx: SqlExecutor, query: NearestQuery): Promise<VectorHit[]>;
}
