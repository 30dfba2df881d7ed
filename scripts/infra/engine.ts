import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root, derived from this file so the CLI and the vitest global setup agree. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Everything the harness owns lives here (git-ignored): data dirs, logs, `state.json`. */
export const INFRA_DIR = process.env.SOMA_INFRA_DIR
  ? resolve(process.env.SOMA_INFRA_DIR)
  : join(REPO_ROOT, '.cache', 'infra');

/**
 * Downloads and builds (jars, Go binaries, llama.cpp, pip packages) live OUTSIDE the clone, in
 * one per-user folder, so every clone on a machine (CI runs in a fresh clone) reuses them:
 * a warm `up` is then seconds, not minutes. Data dirs and logs stay per clone in INFRA_DIR.
 */
export const TOOLS_DIR = process.env.SOMA_TOOLS_DIR
  ? resolve(process.env.SOMA_TOOLS_DIR)
  : join(process.env.XDG_CACHE_HOME ?? join(process.env.HOME ?? '/root', '.cache'), 'somaagent', 'tools');

/** What `state.json` remembers about one running engine. */
export interface EngineState {
  /** PID of the server process this harness started (the postmaster for PostgreSQL). */
  pid: number;
  port: number;
  /** Free-form, engine-specific facts needed by `env()` and `healthy()` (credentials, issuer, ...). */
  details: Record<string, string>;
  startedAt: string;
  /**
   * Who keeps it running: `cli` (`npm run infra up`: runs until `down`) or `tests` (a vitest
   * global setup: stopped when the last test run using it ends). Set by `infra.ts`.
   */
  owner?: 'cli' | 'tests';
}

/** What every engine's hooks receive. */
export interface EngineContext {
  /** `.cache/infra/<engine>/`: the engine's data dir, log and secrets. */
  dir: string;
  /** Where the engine's server writes its log; named in every error. */
  logPath: string;
  /** Progress for steps that take more than a moment (install, initdb, ...). */
  progress(message: string): void;
  /** The port used the last time, tried first so URLs stay stable across restarts. */
  previousPort: number | undefined;
}

/**
 * One local server the tests and `npm run infra` can bring up. Each engine lives in
 * `scripts/infra/engines/<name>.ts` and is listed in `engines/index.ts`.
 */
export interface Engine {
  readonly name: string;
  /** One line for `status` and docs: what runs and where it comes from. */
  readonly description: string;
  /** Makes the binaries available (idempotent; fast when already installed). Throws `InfraError` naming what is missing. */
  install(ctx: EngineContext): Promise<void>;
  /** Starts the server (initialising its data dir on first use) and resolves once it is healthy. */
  start(ctx: EngineContext): Promise<EngineState>;
  /** True when the server recorded in `state` answers like itself. Must not throw. */
  healthy(state: EngineState, ctx: EngineContext): Promise<boolean>;
  /** Environment variables that point SomaAgent (and tests) at this server. */
  env(state: EngineState, ctx: EngineContext): Record<string, string>;
  /** Stops the server recorded in `state`; only ever that PID. */
  stop(state: EngineState, ctx: EngineContext): Promise<void>;
}

/** A failure the CLI prints without a stack: it names the engine, the cause and the log. */
export class InfraError extends Error {
  constructor(
    readonly engine: string,
    message: string,
    readonly logPath?: string,
  ) {
    super(`[infra:${engine}] ${message}${logPath ? ` (log: ${logPath})` : ''}`);
    this.name = 'InfraError';
  }
}

// ---------------------------------------------------------------------------------------------
// state.json

export type StateFile = Record<string, EngineState>;
const statePath = () => join(INFRA_DIR, 'state.json');

export function readState(): StateFile {
  try {
    return JSON.parse(readFileSync(statePath(), 'utf8')) as StateFile;
  } catch {
    return {};
  }
}

export function writeEngineState(name: string, state: EngineState | undefined): void {
  mkdirSync(INFRA_DIR, { recursive: true });
  const all = readState();
  if (state) all[name] = state;
  else delete all[name];
  // Write-then-rename so a concurrent reader never sees half a file.
  const tmp = `${statePath()}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(all, null, 2)}\n`);
  renameSync(tmp, statePath());
}

// ---------------------------------------------------------------------------------------------
// processes and ports

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie (exited, not yet reaped: common when PID 1 of a container does not reap) is gone.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** The command line of `pid`, or '' when it is gone; used to avoid signalling a recycled PID. */
export function pidCommandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Sends `signal` to `pid` (if its command line still contains `marker`) and waits for it to exit. */
export async function stopPid(pid: number, marker: string, signal: NodeJS.Signals, timeoutMs = 20_000) {
  if (!pidAlive(pid) || !pidCommandLine(pid).includes(marker)) return;
  process.kill(pid, signal);
  const deadline = Date.now() + timeoutMs;
  while (pidAlive(pid) && Date.now() < deadline) await sleep(50);
  if (pidAlive(pid)) {
    process.kill(pid, 'SIGKILL');
    while (pidAlive(pid)) await sleep(50);
  }
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once('error', () => resolvePort(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolvePort(true)));
  });
}

/**
 * A TCP port on 127.0.0.1: `fixed` when given (an error if taken), else `preferred` when still
 * free, else one the kernel picks.
 */
export async function choosePort(
  engine: string,
  fixed: string | undefined,
  preferred?: number,
): Promise<number> {
  if (fixed) {
    const port = Number(fixed);
    if (!Number.isInteger(port) || port <= 0 || port > 65535)
      throw new InfraError(engine, `invalid port "${fixed}"`);
    if (!(await portFree(port))) throw new InfraError(engine, `port ${port} on 127.0.0.1 is already in use`);
    return port;
  }
  if (preferred && (await portFree(preferred))) return preferred;
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Polls `check` until it is true or `timeoutMs` passes. */
export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(intervalMs);
  }
  return check();
}

export interface RunOptions {
  /** Appended to this file instead of being captured. */
  logPath?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Runs a command to completion; rejects with its output tail when it exits non-zero. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const fd = options.logPath ? openSync(options.logPath, 'a') : undefined;
    let child: ChildProcess;
    try {
      child = spawn(command, args, {
        cwd: options.cwd,
        env: options.env ?? process.env,
        stdio: ['ignore', fd ?? 'pipe', fd ?? 'pipe'],
      });
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    let output = '';
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.once('error', (error) => reject(error));
    child.once('exit', (code, signal) => {
      if (code === 0) resolveRun(output);
      else {
        const where = options.logPath ? ` (see ${options.logPath})` : `: ${output.trim().slice(-2000)}`;
        reject(new Error(`${command} ${args.join(' ')} exited with ${code ?? signal}${where}`));
      }
    });
  });
}

/** Starts a long-lived server detached from this process, its output appended to `logPath`. */
export function spawnDetached(
  command: string,
  args: readonly string[],
  logPath: string,
  env?: NodeJS.ProcessEnv,
) {
  const fd = openSync(logPath, 'a');
  try {
    const child = spawn(command, args, {
      cwd: REPO_ROOT,
      env: env ?? process.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    child.unref();
    return child;
  } finally {
    closeSync(fd);
  }
}

/** Written to an engine's log before each start, so errors quote only the latest attempt. */
export const START_MARKER = '=== soma infra: starting';

/** The last `lines` lines of a log since the latest start marker, for error messages. */
export function tail(path: string, lines = 20): string {
  if (!existsSync(path)) return '';
  const all = readFileSync(path, 'utf8').trimEnd().split('\n');
  let from = 0;
  for (let i = all.length - 1; i >= 0; i--) {
    if (all[i]!.startsWith(START_MARKER)) {
      from = i;
      break;
    }
  }
  return all.slice(Math.max(from, all.length - lines)).join('\n');
}
