import { randomBytes } from 'node:crypto';
import { PostgresSqlDatabase } from '@somaagent/postgres';
import pg from 'pg';
import { inject } from 'vitest';

export interface TestDatabaseOptions {
  /**
   * Connections in the `soma_app` pool; 1 makes every scope reuse the same connection.
   * @default 5
   */
  appPoolMax?: number;
  /** @default 5 */
  ownerPoolMax?: number;
}

/**
 * A `PostgresSqlDatabase` on its own fresh database of the harness server. `dispose` (or
 * `await using`) ends both pools and drops the database.
 */
export class TestPostgresSqlDatabase extends PostgresSqlDatabase {
  constructor(
    /** `soma_t_<random>` */
    readonly databaseName: string,
    readonly ownerPool: pg.Pool,
    readonly appPool: pg.Pool,
    private readonly adminUrl: string,
  ) {
    super({ ownerPool, appPool });
  }

  override async [Symbol.asyncDispose](): Promise<void> {
    await super[Symbol.asyncDispose]();
    await withAdmin(this.adminUrl, (admin) =>
      admin.query(`DROP DATABASE IF EXISTS ${this.databaseName} WITH (FORCE)`),
    );
  }
}

function urlFor(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withAdmin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * Creates `soma_t_<random>` on the harness PostgreSQL server (as `soma_owner`), grants CONNECT
 * to `soma_app`, and returns an adapter whose owner pool logs in as `soma_owner` and whose app
 * pool logs in as `soma_app`, both on that database. The server's coordinates come from the
 * global setup through `inject('postgres')`.
 */
export async function createTestDatabase(
  options: TestDatabaseOptions = {},
): Promise<TestPostgresSqlDatabase> {
  const { ownerUrl, appUrl } = inject('postgres');
  const name = `soma_t_${randomBytes(6).toString('hex')}`;
  await withAdmin(ownerUrl, async (admin) => {
    await admin.query(`CREATE DATABASE ${name} OWNER soma_owner`);
    await admin.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${name} TO soma_app`);
  });
  const ownerPool = new pg.Pool({ connectionString: urlFor(ownerUrl, name), max: options.ownerPoolMax ?? 5 });
  const appPool = new pg.Pool({ connectionString: urlFor(appUrl, name), max: options.appPoolMax ?? 5 });
  // An idle client dropped by the server must not crash the test process; the next query reports it.
  ownerPool.on('error', () => undefined);
  appPool.on('error', () => undefined);
  return new TestPostgresSqlDatabase(name, ownerPool, appPool, ownerUrl);
}
