import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

// graphql 16 ships CJS (`main`) and ESM (`module`) without an `exports` map. Node, loading
// dependencies such as graphql-yoga or graphql-ws, picks the CJS file; Vite would give our own
// sources the ESM file. Two copies break `instanceof GraphQLError`, so everyone gets Node's.
const graphqlEntry = createRequire(import.meta.url).resolve('graphql');

// Three projects (CONVENTIONS.md §8): `unit` needs nothing running; `contract` runs adapters
// against real servers; `e2e` runs real processes over real sockets. The global setup of the
// last two provisions the servers (tests/setup/globalSetup.ts) and fails — never skips — when
// one cannot start.
export default defineConfig({
  resolve: { alias: [{ find: /^graphql$/, replacement: graphqlEntry }] },
  test: {
    reporters: ['default', './tests/setup/summaryReporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['**/*.unit.test.ts'],
          exclude: ['**/node_modules/**', '.cache/**'],
          testTimeout: 30_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'contract',
          include: ['**/*.contract.test.ts'],
          exclude: ['**/node_modules/**', '.cache/**'],
          globalSetup: ['tests/setup/globalSetup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          // One file at a time: e2e tests measure latencies (a disconnect must stop generation
          // within 1 s) and share the harness's model server, so they must not compete for the
          // 2 cores with each other.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          include: ['**/*.e2e.test.ts'],
          exclude: ['**/node_modules/**', '.cache/**'],
          globalSetup: ['tests/setup/globalSetup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
