import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  choosePort,
  type Engine,
  type EngineContext,
  InfraError,
  pidAlive,
  run,
  spawnDetached,
  stopPid,
  tail,
  waitFor,
} from '../engine';
import { goInstall, goInstalledPath } from '../opa/goInstall';

/** The MinIO server module on the Go module proxy. */
const MINIO_MODULE = 'github.com/minio/minio';
/**
 * MinIO tags its releases `RELEASE.<date>` (not semver), so the Go proxy serves only
 * pseudo-versions: this is the newest commit it serves (2026-02-12), which `go install` builds on
 * Go 1.26 (no `replace` directives).
 */
export const MINIO_VERSION = 'v0.0.0-20260212201848-7aac2a2c5b7c';
/** The commit date of MINIO_VERSION, stamped into the binary as release builds do. */
const MINIO_COMMIT_TIME = '2026-02-12T20:18:48Z';
const MINIO_COMMIT = '7aac2a2c5b7c';
/** MinIO's default region, stated explicitly so clients and server agree. */
export const MINIO_REGION = 'us-east-1';
/** The bucket `env` exports as SOMA_S3_BUCKET; created at start (SomaAgent needs an existing one). */
export const MINIO_BUCKET = 'somaagent';

/** Path of the built `minio`; throws when not built yet (`npm run infra -- up minio`). */
export function minioBinary(): string {
  const path = goInstalledPath('minio', MINIO_VERSION, 'minio');
  if (!existsSync(path)) {
    throw new InfraError('minio', `${path} is not built yet; run: npm run infra -- up minio`);
  }
  return path;
}

/** Builds MinIO from the Go module proxy unless already built; returns its path. */
export function installMinio(ctx: EngineContext): Promise<string> {
  const cmd = `${MINIO_MODULE}/cmd`;
  return goInstall({
    engine: 'minio',
    ctx,
    tool: 'minio',
    pkg: MINIO_MODULE,
    version: MINIO_VERSION,
    binary: 'minio',
    // Without these `minio --version` says DEVELOPMENT.GOGET, hiding which commit runs.
    ldflags: [
      `-X ${cmd}.Version=${MINIO_COMMIT_TIME}`,
      `-X ${cmd}.ReleaseTag=DEVELOPMENT.${MINIO_COMMIT_TIME.replaceAll(':', '-')}`,
      `-X ${cmd}.CommitID=${MINIO_COMMIT}`,
      `-X ${cmd}.ShortCommitID=${MINIO_COMMIT}`,
    ].join(' '),
  });
}

interface MinioCredentials {
  accessKey: string;
  secretKey: string;
}

/**
 * Root credentials are made once per data dir and kept: MinIO encrypts its IAM state with them,
 * so they must not change while `data/` lives.
 */
function credentials(ctx: EngineContext): MinioCredentials {
  const path = join(ctx.dir, 'credentials.json');
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8')) as MinioCredentials;
  const created: MinioCredentials = {
    accessKey: `soma-${randomBytes(6).toString('hex')}`,
    secretKey: randomBytes(24).toString('base64url'),
  };
  writeFileSync(path, JSON.stringify(created, null, 2), { mode: 0o600 });
  return created;
}

/** Liveness that only MinIO answers this way: 200 on its health endpoint, `Server: MinIO`. */
async function answers(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(`${endpoint}/minio/health/live`, { signal: AbortSignal.timeout(2000) });
    return response.ok && (response.headers.get('server') ?? '').includes('MinIO');
  } catch {
    return false;
  }
}

/**
 * Creates MINIO_BUCKET unless it exists, through the S3 API (the AWS SDK, loaded only here).
 * Idempotent: run at every start and health check, so a data dir from before the bucket existed gets it too.
 */
async function ensureBucket(endpoint: string, { accessKey, secretKey }: MinioCredentials): Promise<void> {
  const { CreateBucketCommand, HeadBucketCommand, S3Client } = await import('@aws-sdk/client-s3');
  const client = new S3Client({
    endpoint,
    region: MINIO_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
    maxAttempts: 1,
  });
  try {
    try {
      await client.send(new HeadBucketCommand({ Bucket: MINIO_BUCKET }));
    } catch {
      await client.send(new CreateBucketCommand({ Bucket: MINIO_BUCKET }));
    }
  } finally {
    client.destroy();
  }
}

/** MinIO server built from the Go module proxy: S3 API with signature checks, one local drive. */
export const minioEngine: Engine = {
  name: 'minio',
  description: 'MinIO S3 server (go install from the Go module proxy), S3 API + console on 127.0.0.1',

  async install(ctx) {
    const minio = await installMinio(ctx);
    await run(minio, ['--version']).catch((error: Error) => {
      throw new InfraError('minio', `${minio} does not run: ${error.message}`);
    });
  },

  async start(ctx) {
    const minio = minioBinary();
    const { accessKey, secretKey } = credentials(ctx);
    const data = join(ctx.dir, 'data');
    mkdirSync(data, { recursive: true });
    const port = await choosePort('minio', process.env.SOMA_MINIO_PORT, ctx.previousPort);
    const lastConsolePort = join(ctx.dir, 'last-console-port');
    let consolePort = await choosePort(
      'minio',
      process.env.SOMA_MINIO_CONSOLE_PORT,
      existsSync(lastConsolePort) ? Number(readFileSync(lastConsolePort, 'utf8')) : undefined,
    );
    // Neither port is bound yet, so the kernel may offer the S3 port again: ask once more.
    if (consolePort === port && !process.env.SOMA_MINIO_CONSOLE_PORT) {
      consolePort = await choosePort('minio', undefined);
    }
    if (consolePort === port) throw new InfraError('minio', `S3 and console ports are both ${port}`);
    const endpoint = `http://127.0.0.1:${port}`;
    ctx.progress(`starting MinIO on ${endpoint} (console 127.0.0.1:${consolePort})`);
    // MinIO also listens on every loopback address (::1 too) for its console: still loopback only.
    const child = spawnDetached(
      minio,
      ['server', data, '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`],
      ctx.logPath,
      {
        ...process.env,
        MINIO_ROOT_USER: accessKey,
        MINIO_ROOT_PASSWORD: secretKey,
        MINIO_SITE_REGION: MINIO_REGION,
        // No update checks: the machines reach no host but the package registries.
        MINIO_UPDATE: 'off',
      },
    );
    const pid = child.pid;
    if (!pid) throw new InfraError('minio', `could not spawn ${minio}`, ctx.logPath);
    const ok = await waitFor(async () => !pidAlive(pid) || (await answers(endpoint)), 60_000);
    if (!ok || !pidAlive(pid)) {
      if (pidAlive(pid)) await stopPid(pid, minio, 'SIGTERM');
      throw new InfraError('minio', `MinIO did not become ready:\n${tail(ctx.logPath)}`, ctx.logPath);
    }
    writeFileSync(lastConsolePort, String(consolePort));
    try {
      await ensureBucket(endpoint, { accessKey, secretKey });
    } catch (error) {
      await stopPid(pid, minio, 'SIGTERM');
      throw new InfraError(
        'minio',
        `could not create bucket ${MINIO_BUCKET}: ${(error as Error).message}`,
        ctx.logPath,
      );
    }
    return {
      pid,
      port,
      startedAt: new Date().toISOString(),
      details: { endpoint, console: `http://127.0.0.1:${consolePort}`, binary: minio, data },
    };
  },

  async healthy(state, ctx) {
    const endpoint = `http://127.0.0.1:${state.port}`;
    if (!pidAlive(state.pid) || !(await answers(endpoint))) return false;
    return ensureBucket(endpoint, credentials(ctx)).then(
      () => true,
      () => false,
    );
  },

  env(state, ctx) {
    const { accessKey, secretKey } = credentials(ctx);
    return {
      SOMA_S3_ENDPOINT: `http://127.0.0.1:${state.port}`,
      // The names npm start, the worker and the subgraph processes read (platform/src/config).
      SOMA_S3_ACCESS_KEY_ID: accessKey,
      SOMA_S3_SECRET_ACCESS_KEY: secretKey,
      SOMA_S3_BUCKET: MINIO_BUCKET,
      SOMA_S3_REGION: MINIO_REGION,
    };
  },

  async stop(state, ctx) {
    await stopPid(state.pid, state.details.binary ?? 'minio', 'SIGTERM');
    if (pidAlive(state.pid)) throw new InfraError('minio', `PID ${state.pid} did not stop`, ctx.logPath);
  },
};
