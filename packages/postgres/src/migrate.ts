import { createHash } from 'node:crypto';
import type { Migration, MigrationReport, SqlExecutor } from '@somaagent/ports';

/** The role every application query runs as. It owns nothing and has no BYPASSRLS. */
export const APP_ROLE = 'soma_app';

const checksum = (sql: string) => createHash('sha256').update(sql).digest('hex');

/**
 * Applies migrations in (domain, version) order inside the caller's transaction, which must hold
 * the schema owner's rights. An applied migration whose text changed is refused: migrations are
 * append-only, so a silently edited one would mean two databases with different schemas.
 */
export async function applyMigrations(
  owner: SqlExecutor & { exec(sql: string): Promise<void> },
  migrations: readonly Migration[],
): Promise<MigrationReport> {
  // Serialises concurrent starters (several processes booting against one server).
  await owner.query(`SELECT pg_advisory_xact_lock(hashtext('soma_schema_migrations'))`);
  await owner.exec(`
    CREATE TABLE IF NOT EXISTS public.soma_schema_migrations (
      domain text NOT NULL,
      version integer NOT NULL,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (domain, version)
    );
    DO $$ BEGIN
      IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${APP_ROLE}') THEN
        CREATE ROLE ${APP_ROLE} NOLOGIN;
      END IF;
    END $$;
  `);
  const { rows } = await owner.query<{ domain: string; version: number; checksum: string }>(
    'SELECT domain, version, checksum FROM public.soma_schema_migrations',
  );
  const done = new Map(rows.map((r) => [`${r.domain}@${r.version}`, r.checksum]));
  const ordered = [...migrations].sort((a, b) =>
    a.domain === b.domain ? a.version - b.version : a.domain.localeCompare(b.domain),
  );
  const report: MigrationReport = { applied: [], alreadyApplied: [] };
  for (const m of ordered) {
    const id = `${m.domain}@${m.version}`;
    const sum = checksum(m.sql);
    const previous = done.get(id);
    if (previous !== undefined) {
      if (previous !== sum) {
        throw new Error(
          `migration ${id} (${m.name}) was edited after it was applied; add a new migration instead`,
        );
      }
      report.alreadyApplied.push(id);
      continue;
    }
    await owner.exec(m.sql);
    await owner.query(
      'INSERT INTO public.soma_schema_migrations (domain, version, name, checksum) VALUES ($1, $2, $3, $4)',
      [m.domain, m.version, m.name, sum],
    );
    report.applied.push(id);
  }
  return report;
}

/**
 * Scopes the current transaction in ONE round trip: the application role (`role` is the
 * setting `SET LOCAL ROLE` changes) and the transaction-local tenant settings RLS reads.
 */
export const SCOPE_SQL = `SELECT set_config('role', '${APP_ROLE}', true), set_config('soma.tenant_id', $1, true), set_config('soma.platform_admin', $2, true)`;
