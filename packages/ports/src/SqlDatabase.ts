/**
 * Relational storage port. Every query an application makes runs inside `withScope`, which
 * opens a transaction as the application role (no table ownership, no BYPASSRLS) and sets the
 * tenant for PostgreSQL row-level security with transaction-local settings, so a pooled
 * connection never carries one request's tenant into the next.
 */
export interface SqlExecutor {
  query<Row = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
    options?: SqlQueryOptions,
  ): Promise<SqlResult<Row>>;
}

export interface SqlQueryOptions {
  /**
   * A stable name (letters, digits, `_ . -`) for a statement run often, always with the same
   * SQL: the adapter plans it once per connection and reuses the plan. Planning is most of the
   * cost of a short statement: the sessions subgraph's message write (a four-part CTE) took
   * ~570 µs planned every time on PGlite, ~170 µs prepared. Parameters of a named statement
   * are strings, numbers, booleans, bigints, Dates or null (JSON goes as a string).
   */
  name?: string;
}

export interface SqlResult<Row> {
  rows: Row[];
  rowCount: number;
}

/** Who the rows are read and written for. RLS policies read these as `soma.tenant_id` / `soma.platform_admin`. */
export interface DataScope {
  /** The tenant of the verified token; `null` means no tenant (only definer functions can be reached). */
  tenantId: string | null;
  /** Platform administrators may create tenants; they never see another tenant's rows implicitly. */
  platformAdmin?: boolean;
}

export interface Migration {
  /** Domain that owns the migration, e.g. `identity`. */
  domain: string;
  /** Monotonic version inside the domain, e.g. 1, 2, 3. */
  version: number;
  name: string;
  sql: string;
}

export interface SqlDatabase extends AsyncDisposable {
  /** Human-readable adapter name for logs (`pglite`, `postgres`). */
  readonly kind: string;
  /**
   * True when the database runs inside this process (embedded PGlite): this process is its only
   * client, so what it caches from the database cannot change behind its back, and every
   * statement runs on this event loop (a transaction holds everything else up meanwhile).
   */
  readonly inProcess: boolean;
  /** Runs `work` in one transaction, as the application role, scoped to `scope`. Rolls back on throw. */
  withScope<T>(scope: DataScope, work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Applies pending migrations as the schema owner; idempotent; refuses an edited applied migration. */
  migrate(migrations: readonly Migration[]): Promise<MigrationReport>;
}

export interface MigrationReport {
  applied: string[];
  alreadyApplied: string[];
}
