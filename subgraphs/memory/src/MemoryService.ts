import type { EmbeddingModel } from '@somaagent/embeddings';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { Connection } from '@somaagent/pagination';
import type { SqlDatabase } from '@somaagent/ports';
import { requireCaller } from './capabilities';
import type {
  ForgetInput,
  IngestDocumentInput,
  MemoryDocumentChunksArgs,
  QueryMemoriesArgs,
  QueryMemoryDocumentsArgs,
  RecallInput,
  RememberInput,
  RetrieveContextInput,
} from './generated/resolvers-types';
import { MemoryCollections } from './MemoryCollections';
import { DEFAULT_MEMORY_LIMITS, type MemoryLimits } from './MemoryLimits';
import { MemoryListings } from './MemoryListings';
import { type Citation, type Hit, MemoryRecall } from './MemoryRecall';
import { type CollectionRow, type DocumentRow, type ItemRow, MemoryStore } from './MemoryStore';
import { MemoryWriter } from './MemoryWriter';
import type { VectorIndex } from './VectorIndex';

export type { CollectionRow, DocumentRow, ItemRow };
export { type Citation, DEFAULT_MEMORY_LIMITS, type Hit, type MemoryLimits };

/**
 * The memory domain behind one object: remember / recall / forget, documents chunked and
 * embedded, and context retrieval with citations. It only hands each call to its part: the
 * store (rows and SQL), the collections (embedding model), the writer, the recall and the
 * listings. Each checks the caller's capability itself.
 */
export class MemoryService {
  private readonly writer: MemoryWriter;
  private readonly retrieval: MemoryRecall;
  private readonly listings: MemoryListings;
  private readonly collectionRegistry: MemoryCollections;

  constructor(
    db: SqlDatabase,
    embedder: EmbeddingModel,
    index: VectorIndex,
    readonly limits: MemoryLimits = DEFAULT_MEMORY_LIMITS,
  ) {
    const store = new MemoryStore(db);
    this.collectionRegistry = new MemoryCollections(store, embedder);
    this.writer = new MemoryWriter(store, this.collectionRegistry, index, limits);
    this.retrieval = new MemoryRecall(store, this.collectionRegistry, index, limits);
    this.listings = new MemoryListings(store);
  }

  remember(claims: VerifiedClaims | null, input: RememberInput): Promise<ItemRow> {
    return this.writer.remember(claims, input);
  }

  ingestDocument(claims: VerifiedClaims | null, input: IngestDocumentInput): Promise<DocumentRow> {
    return this.writer.ingestDocument(claims, input);
  }

  /** Deletes MEMORY items (document chunks go with their document). Returns how many. */
  forget(claims: VerifiedClaims | null, input: ForgetInput): Promise<number> {
    return this.writer.forget(claims, input);
  }

  deleteDocument(claims: VerifiedClaims | null, id: string): Promise<boolean> {
    return this.writer.deleteDocument(claims, id);
  }

  recall(claims: VerifiedClaims | null, input: RecallInput): Promise<Hit[]> {
    return this.retrieval.recall(claims, input);
  }

  retrieveContext(
    claims: VerifiedClaims | null,
    input: RetrieveContextInput,
  ): Promise<{ text: string; citations: Citation[] }> {
    return this.retrieval.retrieveContext(claims, input);
  }

  memories(claims: VerifiedClaims | null, args: QueryMemoriesArgs): Promise<Connection<ItemRow>> {
    return this.listings.memories(claims, args);
  }

  documents(claims: VerifiedClaims | null, args: QueryMemoryDocumentsArgs): Promise<Connection<DocumentRow>> {
    return this.listings.documents(claims, args);
  }

  document(claims: VerifiedClaims | null, id: string): Promise<DocumentRow> {
    return this.listings.document(claims, id);
  }

  documentById(claims: VerifiedClaims | null, id: string): Promise<DocumentRow | null> {
    return this.listings.documentById(claims, id);
  }

  itemById(claims: VerifiedClaims | null, id: string): Promise<ItemRow | null> {
    return this.listings.itemById(claims, id);
  }

  /** Chunks of a document in order; the cursor is the chunk's ordinal. */
  chunks(
    claims: VerifiedClaims | null,
    documentId: string,
    args: MemoryDocumentChunksArgs,
  ): Promise<Connection<ItemRow>> {
    return this.listings.chunks(claims, documentId, args);
  }

  async collections(claims: VerifiedClaims | null): Promise<CollectionRow[]> {
    return this.collectionRegistry.list(requireCaller(claims, 'memory:read'));
  }
}
