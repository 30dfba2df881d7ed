import { fileURLToPath } from 'node:url';
import type { Migration } from '@somaagent/ports';
import { loadMigrations } from '@somaagent/postgres';

/** The sessions schema's migrations; apply with `db.migrate(sessionsMigrations)` before serving. */
export const sessionsMigrations: Migration[] = loadMigrations(
  'sessions',
  fileURLToPath(new URL('../migrations', import.meta.url)),
);
