import { clip, SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import { type Connection, pageArgs, toConnection } from '@somaagent/pagination';
import { requireCaller } from './capabilities';
import type {
  MemoryDocumentChunksArgs,
  QueryMemoriesArgs,
  QueryMemoryDocumentsArgs,
} from './generated/resolvers-types';
import { badInput, isUuid, resolveScope } from './inputChecks';
import type { DocumentRow, ItemRow, MemoryStore } from './MemoryStore';

/** What is stored, page by page: memories, documents and their chunks, and single rows by id. */
export class MemoryListings {
  constructor(private readonly store: MemoryStore) {}

  async memories(claims: VerifiedClaims | null, args: QueryMemoriesArgs): Promise<Connection<ItemRow>> {
    const caller = requireCaller(claims, 'memory:read');
    const { first, after } = pageArgs(args);
    const scope = resolveScope(caller, args.scope);
    return this.store.scoped(caller, async (tx) => {
      const page = await this.store.listItems(tx, scope, args.kind ?? null, after, first + 1);
      return toConnection(page.rows, first, page.total, (r) => r);
    });
  }

  async documents(
    claims: VerifiedClaims | null,
    args: QueryMemoryDocumentsArgs,
  ): Promise<Connection<DocumentRow>> {
    const caller = requireCaller(claims, 'memory:read');
    const { first, after } = pageArgs(args);
    const scope = resolveScope(caller, args.scope);
    return this.store.scoped(caller, async (tx) => {
      const page = await this.store.listDocuments(tx, scope, after, first + 1);
      return toConnection(page.rows, first, page.total, (r) => r);
    });
  }

  async document(claims: VerifiedClaims | null, id: string): Promise<DocumentRow> {
    const doc = await this.documentById(claims, id);
    if (!doc) throw new SomaError('NOT_FOUND', `memory document ${clip(id)} not found`);
    return doc;
  }

  async documentById(claims: VerifiedClaims | null, id: string): Promise<DocumentRow | null> {
    const caller = requireCaller(claims, 'memory:read');
    if (!isUuid(id)) return null;
    return this.store.scoped(caller, async (tx) => (await this.store.documentsByIds(tx, [id]))[0] ?? null);
  }

  async itemById(claims: VerifiedClaims | null, id: string): Promise<ItemRow | null> {
    const caller = requireCaller(claims, 'memory:read');
    if (!isUuid(id)) return null;
    return this.store.scoped(caller, async (tx) => (await this.store.itemsByIds(tx, [id]))[0] ?? null);
  }

  /** Chunks of a document in order; the cursor is the chunk's ordinal. */
  async chunks(
    claims: VerifiedClaims | null,
    documentId: string,
    args: MemoryDocumentChunksArgs,
  ): Promise<Connection<ItemRow>> {
    const caller = requireCaller(claims, 'memory:read');
    const { first } = pageArgs({ first: args.first });
    const after = args.after == null ? -1 : decodeOrdinal(args.after);
    return this.store.scoped(caller, async (tx) => {
      const { rows, total } = await this.store.listChunks(tx, documentId, after, first + 1);
      const page = rows.slice(0, first);
      const edges = page.map((r) => ({ cursor: encodeOrdinal(r.ordinal!), node: r }));
      return {
        edges,
        pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null },
        totalCount: total,
      };
    });
  }
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
