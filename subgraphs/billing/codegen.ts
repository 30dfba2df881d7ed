// Resolver types from schema.graphql: `npx graphql-codegen --config subgraphs/billing/codegen.ts`
// (run from the repository root). The output is committed so type checking needs no codegen step.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'subgraphs/billing/schema.graphql',
  generates: {
    'subgraphs/billing/src/generated/resolvers-types.ts': {
      plugins: ['typescript', 'typescript-resolvers'],
      config: {
        federation: true,
        useTypeImports: true,
        useIndexSignature: false,
        enumsAsTypes: true,
        contextType: '../createBillingSubgraph#BillingContext',
        scalars: {
          DateTime: { input: 'string', output: 'string' },
          Micros: { input: 'number', output: 'number' },
        },
        mappers: {
          Budget: '../models#BudgetModel',
        },
      },
    },
  },
};
export default config;
