import { fileURLToPath } from 'node:url';
import type { Migration } from '@somaagent/ports';
import { loadMigrations } from '@somaagent/postgres';

/** The capsules schema's migrations; apply with `db.migrate(capsulesMigrations)` before serving. */
export const capsulesMigrations: Migration[] = loadMigrations(
  'capsules',
  fileURLToPath(new URL('../migrations', import.meta.url)),
);
