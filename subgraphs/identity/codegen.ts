// Resolver types from schema.graphql: `npx graphql-codegen --config subgraphs/identity/codegen.ts`
// (run from the repository root). The output is committed so type checking needs no codegen step.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'subgraphs/identity/schema.graphql',
  generates: {
    'subgraphs/identity/src/generated/resolvers-types.ts': {
      plugins: ['typescript', 'typescript-resolvers'],
      config: {
        federation: true,
        useTypeImports: true,
        useIndexSignature: false,
        enumsAsTypes: true,
        contextType: '../createIdentitySubgraph#IdentityContext',
        scalars: { DateTime: { input: 'Date', output: 'Date | string' } },
        mappers: {
          Tenant: '../models#TenantModel',
          User: '../models#UserModel',
          Role: '../models#RoleModel',
          ApiKey: '../models#ApiKeyModel',
          AccessToken: '../models#AccessTokenModel',
          Viewer: '../models#ViewerModel',
          IdentityEvent: '../models#IdentityEventModel',
        },
      },
    },
  },
};
export default config;
