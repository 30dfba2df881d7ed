import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import type {
  DataScope,
  Migration,
  MigrationReport,
  SqlDatabase,
  SqlExecutor,
  SqlQueryOptions,
  SqlResult,
} from '@somaagent/ports';
import { databaseError } from './databaseError';
import { applyMigrations, SCOPE_SQL } from './migrate';

type PgliteTx = Parameters<Parameters<PGlite['transaction']>[0]>[0];

const STATEMENT_NAME = /^[A-Za-z0-9_.-]{1,63}$/;

/**
 * A parameter of a named statement as an SQL literal. PGlite's query API has no named prepared
 * statements, so they are `PREPARE`d once and run with `EXECUTE name(literal, …)`: each literal
 * is quoted (an untyped literal takes the parameter's type, as a bound value would), quotes and
 * backslashes escaped the way `pg`'s escapeLiteral does (E'' when a backslash is present).
 */
function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') {
    if (typeof value === 'number' && !Number.isFinite(value))
      throw new TypeError(`named statement parameter is not a finite number: ${value}`);
    text = String(value);
  } else if (value instanceof Date) text = value.toISOString();
  else
    throw new TypeError(
      'named statement parameters are strings, numbers, booleans, bigints, Dates or null (pass JSON as a string)',
    );
  const hasBackslash = text.includes('\\');
  const quoted = `'${text.replace(/'/g, "''").replace(/\\/g, '\\\\')}'`;
  return hasBackslash ? `E${quoted}` : quoted;
}

/** Named statements this PGlite session has prepared, name → SQL. */
type Prepared = Map<string, string>;

const executor = (tx: PgliteTx, prepared: Prepared): SqlExecutor & { exec(sql: string): Promise<void> } => ({
  async query(sql, params, options) {
    try {
      return await run(tx, prepared, sql, params, options);
    } catch (error) {
      throw databaseError(error);
    }
  },
  async exec(sql) {
    await tx.exec(sql);
  },
});

async function run(
  tx: PgliteTx,
  prepared: Prepared,
  sql: string,
  params: readonly unknown[] | undefined,
  options: SqlQueryOptions | undefined,
): Promise<SqlResult<never>> {
  let r: Awaited<ReturnType<PgliteTx['query']>>;
  if (options?.name) {
    const name = options.name;
    if (!STATEMENT_NAME.test(name))
      throw new TypeError(`statement name ${JSON.stringify(name)} is not [A-Za-z0-9_.-]{1,63}`);
    const known = prepared.get(name);
    if (known === undefined) {
      // PREPARE is not transactional: the plan outlives this transaction, whatever its fate.
      await tx.exec(`PREPARE "${name}" AS ${sql}`);
      prepared.set(name, sql);
    } else if (known !== sql) {
      throw new Error(`statement name ${name} is already prepared with different SQL`);
    }
    const args = params?.length ? `(${params.map(literal).join(', ')})` : '';
    r = await tx.query(`EXECUTE "${name}"${args}`);
  } else {
    r = await tx.query(sql, params ? [...params] : undefined);
  }
  return { rows: r.rows as never[], rowCount: r.rows.length > 0 ? r.rows.length : (r.affectedRows ?? 0) };
}

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
  readonly inProcess = true;
  private readonly prepared: Prepared = new Map();
  private constructor(private readonly db: PGlite) {}

  /** @param dataDir folder to persist to; omit for an in-memory database. */
  static async open(dataDir?: string, options: PgliteSqlDatabaseOptions = {}): Promise<PgliteSqlDatabase> {
    const db = new PGlite({ dataDir, extensions: options.vector === false ? {} : { vector } });
    await db.waitReady;
    return new PgliteSqlDatabase(db);
  }

  withScope<T>(scope: DataScope, work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) => {
      const scoped = executor(tx, this.prepared);
      await scoped.query(SCOPE_SQL, [scope.tenantId ?? '', scope.platformAdmin ? 'on' : 'off'], {
        name: 'soma.scope',
      });
      return work(scoped);
    });
  }

  migrate(migrations: readonly Migration[]): Promise<MigrationReport> {
    return this.db.transaction((tx) => applyMigrations(executor(tx, this.prepared), migrations));
  }

  /** Escape hatch for tests and tooling that need the owner's view (never used by resolvers). */
  asOwner<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => work(executor(tx, this.prepared)));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.db.closed) await this.db.close();
  }
}
