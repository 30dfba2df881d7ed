import { EmbeddingError, type EmbeddingModel } from '@somaagent/embeddings';
import { SomaError } from '@somaagent/errors';
import type { SqlExecutor } from '@somaagent/ports';
import type { Caller } from './capabilities';
import { badInput } from './inputChecks';
import type { CollectionRow, MemoryStore } from './MemoryStore';

const COLLECTION_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

/** The collection a request names; "default" when it names none. */
export function collectionName(name: string | null | undefined): string {
  const n = name ?? 'default';
  if (!COLLECTION_NAME.test(n)) {
    throw badInput('collection', 'collection names are 1-100 characters: letters, digits, _ . - (not first)');
  }
  return n;
}

/**
 * The server's embedding model and the collections that record one: a collection holds vectors
 * of the model that created it only, so every write and search checks it before embedding.
 */
export class MemoryCollections {
  constructor(
    private readonly store: MemoryStore,
    private readonly embedder: EmbeddingModel,
  ) {}

  /** The tenant's collections, by name. */
  list(caller: Caller): Promise<CollectionRow[]> {
    return this.store.scoped(caller, (tx) => this.store.collections(tx));
  }

  /** The named collection checked against the server's model; null when it does not exist yet. */
  async find(caller: Caller, name: string): Promise<CollectionRow | null> {
    const collection = await this.store.scoped(caller, (tx) => this.store.collection(tx, name));
    if (collection) this.checkModel(collection);
    return collection;
  }

  /** Fails before any embedding work when the collection exists with another model. */
  async checkExisting(caller: Caller, name: string): Promise<void> {
    await this.find(caller, name);
  }

  /** The named collection inside a write transaction, created for the server's model if missing. */
  async ensure(tx: SqlExecutor, caller: Caller, name: string): Promise<CollectionRow> {
    const collection = await this.store.ensureCollection(tx, caller, name, this.embedder);
    this.checkModel(collection);
    return collection;
  }

  /** Vectors of `texts`; an embedding failure becomes a stable code, with nothing stored yet. */
  async embed(texts: string[]): Promise<number[][]> {
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
}
