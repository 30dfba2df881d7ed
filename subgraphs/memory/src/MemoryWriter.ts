import type { VerifiedClaims } from '@somaagent/internal-auth';
import { requireCaller } from './capabilities';
import { chunkText } from './chunkText';
import type { ForgetInput, IngestDocumentInput, RememberInput } from './generated/resolvers-types';
import { badInput, checkMetadata, isUuid, resolveScope } from './inputChecks';
import { collectionName, type MemoryCollections } from './MemoryCollections';
import type { MemoryLimits } from './MemoryLimits';
import type { DocumentRow, ItemRow, MemoryStore } from './MemoryStore';
import type { VectorIndex } from './VectorIndex';

/**
 * The write path: remember, ingest (chunk, embed, store), forget and delete. Texts are embedded
 * before the transaction that stores them (nothing is stored when embedding fails); items and
 * their vectors are written in one transaction.
 */
export class MemoryWriter {
  constructor(
    private readonly store: MemoryStore,
    private readonly collections: MemoryCollections,
    private readonly index: VectorIndex,
    private readonly limits: MemoryLimits,
  ) {}

  async remember(claims: VerifiedClaims | null, input: RememberInput): Promise<ItemRow> {
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
    const metadata = checkMetadata(input.metadata, 'metadata', this.limits.maxMetadataBytes);
    const scope = resolveScope(caller, input.scope);
    const name = collectionName(input.collection);
    await this.collections.checkExisting(caller, name);
    const [vector] = await this.collections.embed([text]);
    return this.store.scoped(caller, async (tx) => {
      const collection = await this.collections.ensure(tx, caller, name);
      const id = await this.store.insertMemory(tx, caller, collection, scope, text, metadata);
      await this.index.put(tx, collection, [{ itemId: id, vector: vector! }]);
      return (await this.store.itemsByIds(tx, [id]))[0]!;
    });
  }

  async ingestDocument(claims: VerifiedClaims | null, input: IngestDocumentInput): Promise<DocumentRow> {
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
    const metadata = checkMetadata(input.metadata, 'metadata', this.limits.maxMetadataBytes);
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
    await this.collections.checkExisting(caller, name);
    const vectors = await this.collections.embed(chunks.map((c) => c.text));
    return this.store.scoped(caller, async (tx) => {
      const collection = await this.collections.ensure(tx, caller, name);
      const { documentId, chunkIds } = await this.store.insertDocument(
        tx,
        caller,
        collection,
        {
          scope,
          title,
          source: input.source ?? null,
          metadata,
          charCount: input.text.length,
          chunkSize: size,
          chunkOverlap: overlap,
        },
        chunks,
      );
      await this.index.put(
        tx,
        collection,
        chunkIds.map((r) => ({ itemId: r.id, vector: vectors[r.ordinal]! })),
      );
      return (await this.store.documentsByIds(tx, [documentId]))[0]!;
    });
  }

  /** Deletes MEMORY items (document chunks go with their document). Returns how many. */
  async forget(claims: VerifiedClaims | null, input: ForgetInput): Promise<number> {
    const caller = requireCaller(claims, 'memory:write');
    let ids: string[] | undefined;
    if (input.ids?.length) {
      if (input.ids.length > 1000) throw badInput('ids', 'at most 1000 ids per call');
      ids = input.ids.filter(isUuid);
    } else if (!input.scope) {
      throw badInput('scope', 'forget needs ids or a scope (with an optional metadata filter and before)');
    }
    const scope = input.scope ? resolveScope(caller, input.scope) : undefined;
    const metadata =
      input.metadata != null
        ? checkMetadata(input.metadata, 'metadata', this.limits.maxMetadataBytes)
        : undefined;
    if (input.before != null && Number.isNaN(Date.parse(input.before)))
      throw badInput('before', 'before must be an ISO 8601 timestamp');
    const before = input.before ?? undefined;
    return this.store.scoped(caller, (tx) => this.store.deleteMemories(tx, { ids, scope, metadata, before }));
  }

  async deleteDocument(claims: VerifiedClaims | null, id: string): Promise<boolean> {
    const caller = requireCaller(claims, 'memory:write');
    if (!isUuid(id)) return false;
    return this.store.scoped(caller, (tx) => this.store.deleteDocument(tx, id));
  }
}
