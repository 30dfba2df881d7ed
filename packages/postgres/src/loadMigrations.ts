import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Migration } from '@somaagent/ports';

/** Reads `NNN_name.sql` files of one domain's `migrations/` folder. */
export function loadMigrations(domain: string, folder: string): Migration[] {
  return readdirSync(folder)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const match = /^(\d+)_(.+)\.sql$/.exec(file)!;
      return {
        domain,
        version: Number(match[1]),
        name: match[2]!,
        sql: readFileSync(join(folder, file), 'utf8'),
      };
    });
}
