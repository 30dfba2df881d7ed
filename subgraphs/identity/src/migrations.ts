import { fileURLToPath } from 'node:url';
import type { Migration } from '@somaagent/ports';
import { loadMigrations } from '@somaagent/postgres';

/** The identity schema's migrations; apply with `db.migrate(identityMigrations)` before serving. */
export const identityMigrations: Migration[] = loadMigrations(
  'identity',
  fileURLToPath(new URL('../migrations', import.meta.url)),
);
