import type { DataScope, Migration, MigrationReport, SqlDatabase, SqlExecutor } from '@somaagent/ports';
import type { Pool, PoolClient } from 'pg';
import { databaseError } from './databaseError';
import { applyMigrations, SCOPE_SQL } from './migrate';

const executor = (client: PoolClient): SqlExecutor & { exec(sql: string): Promise<void> } => ({
  async query(sql, params, options) {
    try {
      // pg keeps a named statement prepared per connection (and refuses one name for two texts).
      const r = options?.name
        ? await client.query({ name: options.name, text: sql, values: params ? [...params] : [] })
        : await client.query(sql, params ? [...params] : undefined);
      return { rows: r.rows, rowCount: r.rowCount ?? r.rows.length };
    } catch (error) {
      // A value the database cannot store is the client's mistake (BAD_USER_INPUT), not a 500.
      throw databaseError(error);
    }
  },
  async exec(sql) {
    await client.query(sql);
  },
});

async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

export interface PostgresSqlDatabaseOptions {
  /** Pool that logs in as the application role (`soma_app`): no ownership, no BYPASSRLS. */
  appPool: Pool;
  /** Pool that logs in as the schema owner; used only for migrations. */
  ownerPool: Pool;
}

/** A real PostgreSQL server through `pg`. */
export class PostgresSqlDatabase implements SqlDatabase {
  readonly kind = 'postgres';
  readonly inProcess = false;
  constructor(private readonly options: PostgresSqlDatabaseOptions) {}

  withScope<T>(scope: DataScope, work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return inTransaction(this.options.appPool, async (client) => {
      // SCOPE_SQL switches to the app role also when the pool already logs in as it: a
      // misconfigured URL pointing at the owner must not silently bypass RLS.
      await client.query({
        name: 'soma.scope',
        text: SCOPE_SQL,
        values: [scope.tenantId ?? '', scope.platformAdmin ? 'on' : 'off'],
      });
      return work(executor(client));
    });
  }

  migrate(migrations: readonly Migration[]): Promise<MigrationReport> {
    return inTransaction(this.options.ownerPool, (client) => applyMigrations(executor(client), migrations));
  }

  asOwner<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return inTransaction(this.options.ownerPool, (client) => work(executor(client)));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all([this.options.appPool.end(), this.options.ownerPool.end()]);
  }
}
