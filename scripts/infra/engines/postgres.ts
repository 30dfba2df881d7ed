import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import {
  choosePort,
  type Engine,
  type EngineContext,
  InfraError,
  pidAlive,
  pidCommandLine,
  run,
  stopPid,
} from '../engine';
import { ensurePgvector } from '../postgres/pgvector';

/** The superuser that owns the schema and runs migrations. */
export const OWNER_ROLE = 'soma_owner';
/** The login role of the application: no ownership, NOSUPERUSER NOBYPASSRLS NOCREATEDB. */
export const APP_LOGIN_ROLE = 'soma_app';
export const DATABASE = 'soma';

const PG_ROOT = '/usr/lib/postgresql';
const isRoot = () => process.getuid?.() === 0;

/** Highest installed Debian PostgreSQL major whose server binary exists, e.g. `/usr/lib/postgresql/15/bin`. */
export function findPostgresBinDir(): string | undefined {
  const override = process.env.SOMA_PG_BINDIR;
  if (override) {
    if (!existsSync(join(override, 'postgres'))) {
      throw new InfraError('postgres', `SOMA_PG_BINDIR=${override} holds no postgres binary`);
    }
    return override;
  }
  if (!existsSync(PG_ROOT)) return undefined;
  const majors = readdirSync(PG_ROOT)
    .filter((v) => existsSync(join(PG_ROOT, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] ? join(PG_ROOT, majors[0], 'bin') : undefined;
}

function binDir(): string {
  const dir = findPostgresBinDir();
  if (!dir) throw new InfraError('postgres', `no PostgreSQL server binary under ${PG_ROOT}/*/bin/postgres`);
  return dir;
}

/**
 * PostgreSQL refuses to run as root, so as root every server command runs as the `postgres` OS
 * user (created by the Debian package) on files it owns; as any other user it runs directly.
 */
function asServerUser(command: string, args: string[]): [string, string[]] {
  return isRoot() ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
}

function giveToServerUser(path: string) {
  if (!isRoot()) return;
  const passwd = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!passwd) {
    throw new InfraError(
      'postgres',
      'OS user "postgres" is missing; reinstall the Debian package postgresql',
    );
  }
  const [, , uid, gid] = passwd.split(':');
  chownSync(path, Number(uid), Number(gid));
}

interface Credentials {
  ownerPassword: string;
  appPassword: string;
}

const credentialsPath = (ctx: EngineContext) => join(ctx.dir, 'credentials.json');
const dataDir = (ctx: EngineContext) => join(ctx.dir, 'data');
/** Written last by a successful first start; a data dir without it is half-made and is redone. */
const readyMarker = (ctx: EngineContext) => join(ctx.dir, 'initialised');

function url(role: string, password: string, port: number, database = DATABASE) {
  return `postgres://${role}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

async function initialise(ctx: EngineContext, bin: string): Promise<Credentials> {
  const data = dataDir(ctx);
  rmSync(data, { recursive: true, force: true });
  rmSync(readyMarker(ctx), { force: true });
  mkdirSync(data, { recursive: true, mode: 0o700 });
  giveToServerUser(data);
  const credentials: Credentials = {
    ownerPassword: randomBytes(18).toString('base64url'),
    appPassword: randomBytes(18).toString('base64url'),
  };
  writeFileSync(credentialsPath(ctx), JSON.stringify(credentials), { mode: 0o600 });
  const pwfile = join(ctx.dir, 'initdb.pw');
  writeFileSync(pwfile, `${credentials.ownerPassword}\n`, { mode: 0o600 });
  giveToServerUser(pwfile);
  giveToServerUser(ctx.logPath);
  ctx.progress(`initdb ${data}`);
  try {
    const [cmd, args] = asServerUser(join(bin, 'initdb'), [
      '-D',
      data,
      '-U',
      OWNER_ROLE,
      `--pwfile=${pwfile}`,
      '--auth-host=scram-sha-256',
      '--auth-local=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C.UTF-8',
      // A test/dev server: losing it on power failure costs a re-run, fsyncs cost every test.
      '--no-sync',
    ]);
    await run(cmd, args, { logPath: ctx.logPath });
  } catch (error) {
    throw new InfraError('postgres', `initdb failed: ${(error as Error).message}`, ctx.logPath);
  } finally {
    rmSync(pwfile, { force: true });
  }
  writeFileSync(
    join(data, 'postgresql.conf'),
    `${readFileSync(join(data, 'postgresql.conf'), 'utf8')}
# --- SomaAgent test harness (scripts/infra/engines/postgres.ts) ---
listen_addresses = '127.0.0.1'
# TCP only: the Debian default socket dir may not exist or be writable here.
unix_socket_directories = ''
max_connections = 300
# Test/dev server: durability is traded for speed (a crash loses recent commits; tests recreate data).
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
log_connections = off
`,
  );
  return credentials;
}

/** Roles and database, re-asserted on every start so a hand-edited cluster is put back. */
async function bootstrap(port: number, credentials: Credentials) {
  const client = new pg.Client({
    connectionString: url(OWNER_ROLE, credentials.ownerPassword, port, 'postgres'),
  });
  await client.connect();
  try {
    const attrs = 'LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION INHERIT';
    const password = client.escapeLiteral(credentials.appPassword);
    const { rowCount } = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [APP_LOGIN_ROLE]);
    await client.query(
      `${rowCount ? 'ALTER' : 'CREATE'} ROLE ${APP_LOGIN_ROLE} WITH ${attrs} PASSWORD ${password}`,
    );
    const db = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (!db.rowCount) await client.query(`CREATE DATABASE ${DATABASE} OWNER ${OWNER_ROLE}`);
    await client.query(`GRANT CONNECT, TEMPORARY ON DATABASE ${DATABASE} TO ${APP_LOGIN_ROLE}`);
  } finally {
    await client.end();
  }
}

function readCredentials(ctx: EngineContext): Credentials {
  return JSON.parse(readFileSync(credentialsPath(ctx), 'utf8')) as Credentials;
}

/** Installs Debian's PostgreSQL (`apt-get update`, then `apt-get install -y postgresql`); root only. */
export async function installWithApt(ctx: EngineContext) {
  if (!isRoot()) {
    throw new InfraError(
      'postgres',
      `PostgreSQL is not installed (no ${PG_ROOT}/*/bin/postgres). Install the Debian package ` +
        '"postgresql" (apt-get install -y postgresql), or run as root so the harness installs it, ' +
        'or set SOMA_PG_BINDIR to a directory holding initdb, pg_ctl and postgres.',
    );
  }
  if (!existsSync('/usr/bin/apt-get')) {
    throw new InfraError(
      'postgres',
      `PostgreSQL is not installed and apt-get is not available to install it`,
    );
  }
  const log = join(ctx.dir, 'install.log');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  ctx.progress('PostgreSQL not found: apt-get update (output in install.log)');
  await run('apt-get', ['update'], { logPath: log, env }).catch((e: Error) => {
    throw new InfraError('postgres', `apt-get update failed: ${e.message}`, log);
  });
  ctx.progress('apt-get install -y postgresql');
  await run('apt-get', ['install', '-y', 'postgresql'], {
    logPath: log,
    env,
  }).catch((e: Error) => {
    throw new InfraError('postgres', `apt-get install postgresql failed: ${e.message}`, log);
  });
  if (!findPostgresBinDir()) {
    throw new InfraError(
      'postgres',
      `apt-get installed postgresql but ${PG_ROOT}/*/bin/postgres is still missing`,
      log,
    );
  }
}

/** The postmaster serving `data` per its postmaster.pid (PID, port), if that process is alive. */
function runningPostmaster(data: string): { pid: number; port: number } | undefined {
  try {
    const lines = readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n');
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    if (pid && port && pidAlive(pid) && pidCommandLine(pid).includes(data)) return { pid, port };
  } catch {
    // No pid file: not running.
  }
  return undefined;
}

async function ping(connectionString: string): Promise<boolean> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Debian's PostgreSQL (the server production runs), one cluster under `.cache/infra/postgres/`. */
export const postgresEngine: Engine = {
  name: 'postgres',
  description:
    'PostgreSQL server (Debian package postgresql) with pgvector (built from Debian source), 127.0.0.1, scram-sha-256',

  async install(ctx) {
    if (!findPostgresBinDir()) await installWithApt(ctx);
    if (isRoot() && !existsSync('/usr/sbin/runuser') && !existsSync('/sbin/runuser')) {
      throw new InfraError(
        'postgres',
        'running as root needs runuser (Debian package util-linux) to start PostgreSQL',
      );
    }
    // Migrations run `CREATE EXTENSION IF NOT EXISTS vector` as soma_owner (a superuser), in `soma`
    // and in every test database alike; the server only needs the extension's files.
    await ensurePgvector(ctx, binDir());
  },

  async start(ctx) {
    const bin = binDir();
    const data = dataDir(ctx);
    if (!existsSync(ctx.logPath)) writeFileSync(ctx.logPath, '');
    giveToServerUser(ctx.logPath);
    const fresh = !existsSync(readyMarker(ctx)) || !existsSync(join(data, 'PG_VERSION'));
    const credentials = fresh ? await initialise(ctx, bin) : readCredentials(ctx);
    if (isRoot()) {
      // Every parent folder must be traversable by the postgres user (not so under /root, say).
      await run('runuser', ['-u', 'postgres', '--', 'test', '-w', data]).catch(() => {
        throw new InfraError(
          'postgres',
          `the OS user "postgres" cannot write ${data}; move the checkout or set SOMA_INFRA_DIR to a path it can reach`,
        );
      });
    }
    const orphan = runningPostmaster(data);
    if (orphan) {
      // Our cluster is already up but state.json forgot it (deleted, or a crashed `up`): adopt it.
      ctx.progress(`adopting the running server PID ${orphan.pid} on port ${orphan.port}`);
      await bootstrap(orphan.port, credentials);
      return {
        pid: orphan.pid,
        port: orphan.port,
        startedAt: new Date().toISOString(),
        details: { dataDir: data, binDir: bin },
      };
    }
    const port = await choosePort('postgres', process.env.SOMA_PG_PORT, ctx.previousPort);
    ctx.progress(`starting PostgreSQL (${bin}) on 127.0.0.1:${port}`);
    const [cmd, args] = asServerUser(join(bin, 'pg_ctl'), [
      '-D',
      data,
      '-l',
      ctx.logPath,
      '-w',
      '-t',
      '60',
      '-o',
      `-p ${port}`,
      'start',
    ]);
    try {
      await run(cmd, args);
    } catch (error) {
      throw new InfraError('postgres', `pg_ctl start failed: ${(error as Error).message}`, ctx.logPath);
    }
    const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    try {
      await bootstrap(port, credentials);
    } catch (error) {
      await stopPid(pid, data, 'SIGINT');
      throw new InfraError(
        'postgres',
        `creating roles/database failed: ${(error as Error).message}`,
        ctx.logPath,
      );
    }
    if (fresh) writeFileSync(readyMarker(ctx), `${new Date().toISOString()}\n`);
    return {
      pid,
      port,
      startedAt: new Date().toISOString(),
      details: { dataDir: data, binDir: bin },
    };
  },

  async healthy(state, ctx) {
    if (!pidAlive(state.pid)) return false;
    try {
      return await ping(url(OWNER_ROLE, readCredentials(ctx).ownerPassword, state.port));
    } catch {
      return false;
    }
  },

  env(state, ctx) {
    const c = readCredentials(ctx);
    return {
      SOMA_DATABASE_OWNER_URL: url(OWNER_ROLE, c.ownerPassword, state.port),
      SOMA_DATABASE_URL: url(APP_LOGIN_ROLE, c.appPassword, state.port),
    };
  },

  async stop(state, ctx) {
    // SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, checkpoint, exit.
    await stopPid(state.pid, dataDir(ctx), 'SIGINT', 30_000);
    if (pidAlive(state.pid)) throw new InfraError('postgres', `PID ${state.pid} did not stop`, ctx.logPath);
  },
};
