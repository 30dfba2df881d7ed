import type { CollectionRow, DocumentRow, ItemRow } from './MemoryStore';

/** GraphQL-facing shapes (codegen mappers): rows mapped once, relations resolved by field. */
export interface MemoryItemModel {
  id: string;
  kind: ItemRow['kind'];
  scope: { kind: ItemRow['scope_kind']; id: string | null };
  collection: string;
  text: string;
  metadata: Record<string, unknown>;
  documentId: string | null;
  ordinal: number | null;
  startOffset: number | null;
  endOffset: number | null;
  createdAt: string;
}

export interface MemoryDocumentModel {
  id: string;
  scope: { kind: DocumentRow['scope_kind']; id: string | null };
  collection: string;
  title: string;
  source: string | null;
  metadata: Record<string, unknown>;
  charCount: number;
  chunkCount: number;
  chunkSize: number;
  chunkOverlap: number;
  createdAt: string;
}

export interface MemoryCollectionModel {
  name: string;
  model: string;
  dimension: number;
  createdAt: string;
}

const iso = (d: Date) => new Date(d).toISOString();
const scope = (kind: ItemRow['scope_kind'], id: string) => ({ kind, id: kind === 'TENANT' ? null : id });

export const toItem = (r: ItemRow): MemoryItemModel => ({
  id: r.id,
  kind: r.kind,
  scope: scope(r.scope_kind, r.scope_id),
  collection: r.collection,
  text: r.content,
  metadata: r.metadata,
  documentId: r.document_id,
  ordinal: r.ordinal,
  startOffset: r.start_offset,
  endOffset: r.end_offset,
  createdAt: iso(r.created_at),
});

export const toDocument = (r: DocumentRow): MemoryDocumentModel => ({
  id: r.id,
  scope: scope(r.scope_kind, r.scope_id),
  collection: r.collection,
  title: r.title,
  source: r.source,
  metadata: r.metadata,
  charCount: r.char_count,
  chunkCount: r.chunk_count,
  chunkSize: r.chunk_size,
  chunkOverlap: r.chunk_overlap,
  createdAt: iso(r.created_at),
});

export const toCollection = (r: CollectionRow): MemoryCollectionModel => ({
  name: r.name,
  model: r.model,
  dimension: r.dimension,
  createdAt: iso(r.created_at),
});
