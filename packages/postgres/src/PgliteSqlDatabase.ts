import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import type { DataScope, Migration, MigrationReport, SqlDatabase, SqlExecutor } from '@somaagent/ports';
import { applyMigrations, SCOPE_SQL } from './migrate';

type PgliteTx = Parameters<Parameters<PGlite['transaction']>[0]>[0];

const executor = (tx: PgliteTx): SqlExecutor & { exec(sql: string): Promise<void> } => ({
  async query(sql, params) {
    const r = await tx.query(sql, params ? [...params] : undefined);
    return { rows: r.rows as never[], rowCount: r.rows.length > 0 ? r.rows.length : (r.affectedRows ?? 0) };
  },
  async exec(sql) {
    await tx.exec(sql);
  },
});

export interface PgliteSqlDatabaseOptions {
  /**
   * Make pgvector available, so a migration's `CREATE EXTENSION IF NOT EXISTS vector` works as
   * it does on the server (`@electric-sql/pglite-pgvector`; nothing is created until then).
   * @default true
   */
  vector?: boolean;
}

/**
 * Embedded PostgreSQL (PGlite, PostgreSQL compiled to WebAssembly) for the default mode.
 * PGlite has one session and its user is a superuser, so every scoped transaction switches to
 * the application role with `SET LOCAL ROLE`; RLS then applies exactly as on a server.
 */
export class PgliteSqlDatabase implements SqlDatabase {
  readonly kind = 'pglite';
  private constructor(private readonly db: PGlite) {}

  /** @param dataDir folder to persist to; omit for an in-memory database. */
  static async open(dataDir?: string, options: PgliteSqlDatabaseOptions = {}): Promise<PgliteSqlDatabase> {
    const db = new PGlite({ dataDir, extensions: options.vector === false ? {} : { vector } });
    await db.waitReady;
    return new PgliteSqlDatabase(db);
  }

  withScope<T>(scope: DataScope, work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) => {
      await tx.query(SCOPE_SQL, [scope.tenantId ?? '', scope.platformAdmin ? 'on' : 'off']);
      return work(executor(tx));
    });
  }

  migrate(migrations: readonly Migration[]): Promise<MigrationReport> {
    return this.db.transaction((tx) => applyMigrations(executor(tx), migrations));
  }

  /** Escape hatch for tests and tooling that need the owner's view (never used by resolvers). */
  asOwner<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => work(executor(tx)));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.db.closed) await this.db.close();
  }
}
