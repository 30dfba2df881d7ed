import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StdioTransportConfig } from '../src/index';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));

/** The entry script of an npm package's bin, run with this very `node` (no npx, no PATH lookup). */
export function binOf(packageName: string): string {
  const manifestPath = require.resolve(`${packageName}/package.json`);
  const manifest = require(manifestPath) as { bin: string | Record<string, string> };
  const bin = typeof manifest.bin === 'string' ? manifest.bin : Object.values(manifest.bin)[0];
  if (!bin) throw new Error(`${packageName} declares no bin`);
  return join(dirname(manifestPath), bin);
}

export const PAGINATED_SERVER = join(here, 'servers', 'paginatedServer.mjs');
const LOOPBACK_ONLY = join(here, 'servers', 'loopbackOnly.mjs');

export function stdioServer(
  packageName: string,
  args: string[] = [],
  env?: Record<string, string>,
): StdioTransportConfig {
  return {
    kind: 'stdio',
    command: process.execPath,
    args: [binOf(packageName), ...args],
    ...(env ? { env } : {}),
  };
}

export interface HttpServerProcess extends AsyncDisposable {
  url: string;
  port: number;
  pid: number;
  /** Kills the process (SIGKILL: a crash, not a shutdown) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts an HTTP MCP server as a child process and waits until it listens. `--import
 * loopbackOnly.mjs` pins it to 127.0.0.1 and makes it report the port it got (PORT=0 by default).
 */
export async function startHttpServer(options: {
  script: string;
  args?: string[];
  port?: number;
  path?: string;
}): Promise<HttpServerProcess> {
  const child = spawn(
    process.execPath,
    ['--import', LOOPBACK_ONLY, options.script, ...(options.args ?? [])],
    {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(options.port ?? 0) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /SOMAAGENT_LISTENING (\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`${options.script} exited with ${code} before listening: ${output}`)),
    );
    setTimeout(
      () => reject(new Error(`${options.script} did not listen within 20 s: ${output}`)),
      20_000,
    ).unref();
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${options.script} has no pid`);
  const kill = (signal: NodeJS.Signals = 'SIGKILL') => stop(child, signal);
  return {
    url: `http://127.0.0.1:${port}${options.path ?? '/mcp'}`,
    port,
    pid,
    kill,
    [Symbol.asyncDispose]: () => kill('SIGTERM'),
  };
}

async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // By pid: the child is ours, started above.
  process.kill(child.pid as number, signal);
  const timer = setTimeout(
    () => child.exitCode === null && process.kill(child.pid as number, 'SIGKILL'),
    5_000,
  );
  await exited;
  clearTimeout(timer);
}

/** A loopback port nothing listens on (bound, then released), for "server down" tests. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Whether a pid is still alive. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
