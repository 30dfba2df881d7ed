// Resolver types from schema.graphql: `npx graphql-codegen --config subgraphs/sessions/codegen.ts`
// (run from the repository root). The output is committed so type checking needs no codegen step.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'subgraphs/sessions/schema.graphql',
  generates: {
    'subgraphs/sessions/src/generated/resolvers-types.ts': {
      plugins: ['typescript', 'typescript-resolvers'],
      config: {
        federation: true,
        useTypeImports: true,
        useIndexSignature: false,
        enumsAsTypes: true,
        contextType: '../createSessionsSubgraph#SessionsContext',
        scalars: { DateTime: { input: 'string', output: 'string' } },
        mappers: {
          Session: '../models#SessionModel',
          Message: '../models#MessageModel',
          Persona: '../models#PersonaModel',
          SessionEvent: '../models#SessionEventModel',
        },
      },
    },
  },
};
export default config;
