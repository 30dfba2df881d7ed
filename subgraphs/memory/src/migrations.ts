import { fileURLToPath } from 'node:url';
import type { Migration } from '@somaagent/ports';
import { loadMigrations } from '@somaagent/postgres';

/** The memory schema's migrations (needs pgvector); apply with `db.migrate(memoryMigrations)`. */
export const memoryMigrations: Migration[] = loadMigrations(
  'memory',
  fileURLToPath(new URL('../migrations', import.meta.url)),
);
