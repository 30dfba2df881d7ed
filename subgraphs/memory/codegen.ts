// Resolver types from schema.graphql: `npx graphql-codegen --config subgraphs/memory/codegen.ts`
// (run from the repository root). The output is committed so type checking needs no codegen step.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'subgraphs/memory/schema.graphql',
  generates: {
    'subgraphs/memory/src/generated/resolvers-types.ts': {
      plugins: ['typescript', 'typescript-resolvers'],
      config: {
        federation: true,
        useTypeImports: true,
        useIndexSignature: false,
        enumsAsTypes: true,
        contextType: '../createMemorySubgraph#MemoryContext',
        scalars: {
          DateTime: { input: 'string', output: 'string' },
          JSON: { input: 'unknown', output: 'unknown' },
        },
        mappers: {
          MemoryItem: '../models#MemoryItemModel',
          MemoryDocument: '../models#MemoryDocumentModel',
          MemoryCollection: '../models#MemoryCollectionModel',
        },
      },
    },
  },
};
export default config;
