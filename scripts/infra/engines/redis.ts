import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import {
  choosePort,
  type Engine,
  type EngineContext,
  InfraError,
  pidAlive,
  pidCommandLine,
  run,
  spawnDetached,
  stopPid,
  tail,
  waitFor,
} from '../engine';

/** Debian 12 ships Redis 7.0 (`redis-server` 5:7.0.15-1~deb12u*); apt pins it through the release. */
const REDIS_SERVER = '/usr/bin/redis-server';
const isRoot = () => process.getuid?.() === 0;

const passwordPath = (ctx: EngineContext) => join(ctx.dir, 'password');
const configPath = (ctx: EngineContext) => join(ctx.dir, 'redis.conf');
const dataDir = (ctx: EngineContext) => join(ctx.dir, 'data');

/** The `requirepass` secret, made once per `.cache/infra/redis/` and kept across restarts. */
function password(ctx: EngineContext): string {
  const path = passwordPath(ctx);
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const secret = randomBytes(24).toString('base64url');
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** `redis://:<password>@127.0.0.1:<port>`: what ioredis (`new Redis(url)`) takes. */
export function redisUrl(secret: string, port: number): string {
  return `redis://:${encodeURIComponent(secret)}@127.0.0.1:${port}`;
}

/** `apt-get update` then `apt-get install -y redis-server` (root only; waits for a dpkg lock held by another install). */
async function installWithApt(ctx: EngineContext) {
  if (!isRoot() || !existsSync('/usr/bin/apt-get')) {
    throw new InfraError(
      'redis',
      `Redis is not installed (no ${REDIS_SERVER}). Install the Debian package "redis-server" ` +
        '(apt-get install -y redis-server), or run as root on Debian so the harness installs it.',
    );
  }
  const log = join(ctx.dir, 'install.log');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const lockWait = ['-o', 'DPkg::Lock::Timeout=300'];
  ctx.progress('redis-server not found: apt-get update (output in install.log)');
  await run('apt-get', [...lockWait, 'update'], { logPath: log, env }).catch((e: Error) => {
    throw new InfraError('redis', `apt-get update failed: ${e.message}`, log);
  });
  ctx.progress('apt-get install -y redis-server');
  await run('apt-get', [...lockWait, 'install', '-y', '--no-install-recommends', 'redis-server'], {
    logPath: log,
    env,
  }).catch((e: Error) => {
    throw new InfraError('redis', `apt-get install redis-server failed: ${e.message}`, log);
  });
  if (!existsSync(REDIS_SERVER)) {
    throw new InfraError('redis', `apt-get installed redis-server but ${REDIS_SERVER} is missing`, log);
  }
}

/** AUTH + PING over a fresh connection; true only for `PONG` from a server that checked the password. */
async function ping(port: number, secret: string): Promise<boolean> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    password: secret,
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** Redis rewrites its process title to `<binary> 127.0.0.1:<port>`; used to check a PID is ours before signalling it. */
const processMarker = (port: number) => `127.0.0.1:${port}`;

/** Debian's `redis-server` as a child process: 127.0.0.1 only, `requirepass`, append-only file in `.cache/infra/redis/data`. */
export const redisEngine: Engine = {
  name: 'redis',
  description: 'Redis server (Debian package redis-server), 127.0.0.1, requirepass, appendonly',

  async install(ctx) {
    if (!existsSync(REDIS_SERVER)) await installWithApt(ctx);
    await run(REDIS_SERVER, ['--version']).catch((error: Error) => {
      throw new InfraError('redis', `${REDIS_SERVER} does not run: ${error.message}`);
    });
  },

  async start(ctx) {
    const secret = password(ctx);
    mkdirSync(dataDir(ctx), { recursive: true });
    const port = await choosePort('redis', process.env.SOMA_REDIS_PORT, ctx.previousPort);
    // The password lives in a 0600 file, not on the command line (visible in `ps`).
    writeFileSync(
      configPath(ctx),
      [
        '# Written by scripts/infra/engines/redis.ts on every start; edits are lost.',
        'bind 127.0.0.1',
        `port ${port}`,
        'protected-mode yes',
        `requirepass ${secret}`,
        'daemonize no',
        // Log to stdout, which the harness appends to redis.log.
        'logfile ""',
        `dir ${dataDir(ctx)}`,
        // Durability of a dev server: the append-only file, fsynced every second; no RDB snapshots.
        'appendonly yes',
        'appendfsync everysec',
        'save ""',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    ctx.progress(`starting redis-server on 127.0.0.1:${port}`);
    const child = spawnDetached(REDIS_SERVER, [configPath(ctx)], ctx.logPath);
    const pid = child.pid;
    if (!pid) throw new InfraError('redis', `could not spawn ${REDIS_SERVER}`, ctx.logPath);
    const ok = await waitFor(async () => !pidAlive(pid) || (await ping(port, secret)), 30_000, 50);
    if (!ok || !pidAlive(pid)) {
      if (pidAlive(pid)) await stopPid(pid, processMarker(port), 'SIGTERM');
      throw new InfraError('redis', `redis-server did not become ready:\n${tail(ctx.logPath)}`, ctx.logPath);
    }
    return { pid, port, startedAt: new Date().toISOString(), details: { dataDir: dataDir(ctx) } };
  },

  async healthy(state, ctx) {
    if (!pidAlive(state.pid) || !pidCommandLine(state.pid).includes(processMarker(state.port))) return false;
    try {
      return await ping(state.port, password(ctx));
    } catch {
      return false;
    }
  },

  env(state, ctx) {
    return { SOMA_REDIS_URL: redisUrl(password(ctx), state.port) };
  },

  async stop(state, ctx) {
    // SIGTERM: Redis flushes the append-only file and exits.
    await stopPid(state.pid, processMarker(state.port), 'SIGTERM');
    if (pidAlive(state.pid)) throw new InfraError('redis', `PID ${state.pid} did not stop`, ctx.logPath);
  },
};
