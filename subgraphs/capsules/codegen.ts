// Resolver types from schema.graphql: `npx graphql-codegen --config subgraphs/capsules/codegen.ts`
// (run from the repository root). The output is committed so type checking needs no codegen step.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'subgraphs/capsules/schema.graphql',
  generates: {
    'subgraphs/capsules/src/generated/resolvers-types.ts': {
      plugins: ['typescript', 'typescript-resolvers'],
      config: {
        federation: true,
        useTypeImports: true,
        useIndexSignature: false,
        enumsAsTypes: true,
        contextType: '../createCapsulesSubgraph#CapsulesContext',
        scalars: {
          DateTime: { input: 'string', output: 'string' },
          JSON: { input: 'unknown', output: 'unknown' },
        },
        mappers: {
          Capsule: '../models#CapsuleModel',
          CapsuleRun: '../models#CapsuleRunModel',
          CapsuleRunEvent: '../models#CapsuleRunEventModel',
        },
      },
    },
  },
};
export default config;
