import { fileURLToPath } from 'node:url';
import type { Migration } from '@somaagent/ports';
import { loadMigrations } from '@somaagent/postgres';

/** The billing schema's migrations; apply with `db.migrate(billingMigrations)`. */
export const billingMigrations: Migration[] = loadMigrations(
  'billing',
  fileURLToPath(new URL('../migrations', import.meta.url)),
);
