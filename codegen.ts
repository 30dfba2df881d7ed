// `npm run codegen`: types the example client's operations against a RUNNING endpoint's
// introspection (start it with `npm start`; override the address with SOMA_URL).
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: process.env.SOMA_URL ?? 'http://127.0.0.1:4000/graphql',
  documents: ['docs/examples/client/operations.graphql'],
  generates: {
    'docs/examples/client/generated/graphql.ts': {
      // typescript-operations 6 emits the input and enum types it needs itself.
      plugins: ['typescript-operations'],
      config: { enumsAsTypes: true, useTypeImports: true, scalars: { DateTime: 'string' } },
    },
  },
};
export default config;
