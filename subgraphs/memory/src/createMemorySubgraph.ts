import { readFileSync } from 'node:fs';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { EmbeddingModel } from '@somaagent/embeddings';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { Connection } from '@somaagent/pagination';
import type { SqlDatabase } from '@somaagent/ports';
import { type GraphQLSchema, parse } from 'graphql';
import type { Resolvers } from './generated/resolvers-types';
import { JsonScalar } from './JsonScalar';
import { DEFAULT_MEMORY_LIMITS, type MemoryLimits } from './MemoryLimits';
import { MemoryService } from './MemoryService';
import { toCollection as collection, toDocument as document, toItem as item } from './models';
import { PgVectorIndex } from './PgVectorIndex';
import type { VectorIndex } from './VectorIndex';

export interface MemoryDeps {
  db: SqlDatabase;
  /** The model every collection created by this server records (e.g. UniversalSentenceEncoderEmbeddingModel). */
  embedder: EmbeddingModel;
  /** @default a PgVectorIndex over `db` */
  index?: VectorIndex;
  limits?: Partial<MemoryLimits>;
}

export interface MemoryContext {
  claims: VerifiedClaims | null;
}

export interface MemorySubgraph extends AsyncDisposable {
  name: 'memory';
  schema: GraphQLSchema;
  createContext: (claims: VerifiedClaims | null) => MemoryContext;
  service: MemoryService;
}

export const memoryTypeDefs = parse(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));

const connection = <R, N>(c: Connection<R>, map: (r: R) => N): Connection<N> => ({
  ...c,
  edges: c.edges.map((e) => ({ cursor: e.cursor, node: map(e.node) })),
});

/** The memory subgraph: build it, then serve it with `serveSubgraph`. */
export async function createMemorySubgraph(deps: MemoryDeps): Promise<MemorySubgraph> {
  const service = new MemoryService(deps.db, deps.embedder, deps.index ?? new PgVectorIndex(), {
    ...DEFAULT_MEMORY_LIMITS,
    ...deps.limits,
  });

  const resolvers: Resolvers = {
    JSON: JsonScalar,
    Query: {
      memories: async (_, args, ctx) => connection(await service.memories(ctx.claims, args), item),
      memoryDocuments: async (_, args, ctx) =>
        connection(await service.documents(ctx.claims, args), document),
      memoryDocument: async (_, { id }, ctx) => document(await service.document(ctx.claims, id)),
      recall: async (_, { input }, ctx) =>
        (await service.recall(ctx.claims, input)).map((h) => ({ ...h, item: item(h.item) })),
      retrieveContext: async (_, { input }, ctx) => {
        const r = await service.retrieveContext(ctx.claims, input);
        return {
          text: r.text,
          citations: r.citations.map((c) => ({ marker: c.marker, score: c.score, item: item(c.item) })),
        };
      },
      memoryCollections: async (_, __, ctx) => (await service.collections(ctx.claims)).map(collection),
    },
    Mutation: {
      remember: async (_, { input }, ctx) => item(await service.remember(ctx.claims, input)),
      forget: async (_, { input }, ctx) => ({ deletedCount: await service.forget(ctx.claims, input) }),
      ingestDocument: async (_, { input }, ctx) => document(await service.ingestDocument(ctx.claims, input)),
      deleteMemoryDocument: async (_, { id }, ctx) => service.deleteDocument(ctx.claims, id),
    },
    MemoryItem: {
      __resolveReference: async (ref, ctx) => {
        const r = await service.itemById(ctx.claims, ref.id);
        return r ? item(r) : null;
      },
      document: async (i, _, ctx) => {
        if (!i.documentId) return null;
        const d = await service.documentById(ctx.claims, i.documentId);
        return d ? document(d) : null;
      },
    },
    MemoryDocument: {
      __resolveReference: async (ref, ctx) => {
        const d = await service.documentById(ctx.claims, ref.id);
        return d ? document(d) : null;
      },
      chunks: async (d, args, ctx) => connection(await service.chunks(ctx.claims, d.id, args), item),
    },
  };

  const schema = buildSubgraphSchema([{ typeDefs: memoryTypeDefs, resolvers: resolvers as never }]);
  return {
    name: 'memory',
    schema,
    createContext: (claims) => ({ claims }),
    service,
    async [Symbol.asyncDispose]() {},
  };
}
