import { defineConfig } from 'vitest/config';

// Three projects (CONVENTIONS.md §8): `unit` needs nothing running; `contract` runs adapters
// against real servers; `e2e` runs real processes over real sockets. The global setup of the
// last two provisions the servers (tests/setup/globalSetup.ts) and fails — never skips — when
// one cannot start.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['**/*.unit.test.ts'],
          exclude: ['**/node_modules/**', '.cache/**'],
          testTimeout: 30_000,
        },
      },
      {
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
        test: {
          name: 'e2e',
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
