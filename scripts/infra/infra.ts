import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import {
  type Engine,
  type EngineContext,
  type EngineState,
  INFRA_DIR,
  InfraError,
  pidAlive,
  readState,
  START_MARKER,
  sleep,
  TOOLS_DIR,
  writeEngineState,
} from './engine';
import { ENGINES, engineByName } from './engines/index';

export type Progress = (engine: string, message: string) => void;

export function contextFor(engine: Engine, progress: Progress = () => undefined): EngineContext {
  const dir = join(INFRA_DIR, engine.name);
  mkdirSync(dir, { recursive: true });
  let previousPort: number | undefined;
  try {
    previousPort = Number(readFileSync(join(dir, 'last-port'), 'utf8')) || undefined;
  } catch {
    previousPort = undefined;
  }
  return {
    dir,
    logPath: join(dir, `${engine.name}.log`),
    previousPort,
    progress: (message) => progress(engine.name, message),
  };
}

export function resolveEngines(names: readonly string[]): Engine[] {
  return names.length === 0 ? [...ENGINES] : names.map(engineByName);
}

/**
 * Serialises `up`/`down` across processes (a developer's `npm run infra up` racing the vitest
 * global setup): a directory created atomically, holding the owner's PID; a dead owner's lock is
 * taken over.
 */
async function withLock<T>(
  work: () => Promise<T>,
  lock = join(INFRA_DIR, 'lock'),
  timeoutMs = 10 * 60_000,
): Promise<T> {
  mkdirSync(dirname(lock), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      let owner = 0;
      try {
        owner = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {
        // The owner is between mkdir and writing its PID; give it a moment.
      }
      if (owner && !pidAlive(owner)) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock} (held by PID ${owner})`);
      else await sleep(200);
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface UpResult {
  /** Environment of every requested engine, merged. */
  env: Record<string, string>;
  /** Engines this call started (the others were already running and healthy). */
  started: string[];
}

export interface UpOptions {
  progress?: Progress;
  /**
   * `cli`: the engines stay up until `npm run infra down` (also claims engines a test run
   * started). `tests`: this process takes a lease; `releaseTestLease` stops test-started engines
   * once no live test process holds a lease on them.
   * @default 'cli'
   */
  owner?: 'cli' | 'tests';
}

const leaseDir = () => join(INFRA_DIR, 'leases');

/** Engine name → PIDs of live test processes holding a lease on it (dead processes' leases are removed). */
function liveLeases(): Map<string, number[]> {
  mkdirSync(leaseDir(), { recursive: true });
  const held = new Map<string, number[]>();
  for (const file of readdirSync(leaseDir())) {
    const path = join(leaseDir(), file);
    const pid = Number(file.replace(/\.json$/, ''));
    if (!pidAlive(pid)) {
      rmSync(path, { force: true });
      continue;
    }
    try {
      for (const name of JSON.parse(readFileSync(path, 'utf8')) as string[]) {
        held.set(name, [...(held.get(name) ?? []), pid]);
      }
    } catch {
      // Unreadable lease: its writer holds the lock while writing, so this is a stray file.
    }
  }
  return held;
}

/** Brings `engines` up; an engine already running and healthy is left alone. */
export async function up(engines: readonly Engine[], options: UpOptions = {}): Promise<UpResult> {
  const owner = options.owner ?? 'cli';
  return withLock(async () => {
    const result: UpResult = { env: {}, started: [] };
    for (const engine of engines) {
      const ctx = contextFor(engine, options.progress);
      let state: EngineState | undefined = readState()[engine.name];
      if (state && !(await engine.healthy(state, ctx))) {
        ctx.progress(`recorded PID ${state.pid} is not healthy; restarting`);
        await engine.stop(state, ctx).catch(() => undefined);
        writeEngineState(engine.name, undefined);
        state = undefined;
      }
      if (!state) {
        try {
          // The tool cache is shared by every checkout on the machine (a clone running its tests
          // beside this one): one installer per engine at a time, or one sees the other's half-done work.
          await withLock(
            () => engine.install(ctx),
            join(TOOLS_DIR, `.install-${engine.name}.lock`),
            60 * 60_000,
          );
          appendFileSync(
            ctx.logPath,
            `\n${START_MARKER} ${engine.name} at ${new Date().toISOString()} ===\n`,
          );
          state = { ...(await engine.start(ctx)), owner };
        } catch (error) {
          if (error instanceof InfraError) throw error;
          throw new InfraError(engine.name, (error as Error).message, ctx.logPath);
        }
        writeEngineState(engine.name, state);
        writeFileSync(join(ctx.dir, 'last-port'), String(state.port));
        result.started.push(engine.name);
      } else if (owner === 'cli' && state.owner !== 'cli') {
        // A developer asked for it explicitly: it outlives the test run that started it.
        state = { ...state, owner: 'cli' };
        writeEngineState(engine.name, state);
      }
      Object.assign(result.env, engine.env(state, ctx));
    }
    if (owner === 'tests') {
      const path = join(leaseDir(), `${process.pid}.json`);
      const held = new Set<string>(
        existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as string[]) : [],
      );
      for (const engine of engines) held.add(engine.name);
      mkdirSync(leaseDir(), { recursive: true });
      writeFileSync(path, JSON.stringify([...held]));
    }
    return result;
  });
}

/**
 * Drops this process's test lease and stops the engines a test run started that no live test
 * process still uses. Engines started with `npm run infra up` are never stopped here.
 */
export async function releaseTestLease(progress?: Progress): Promise<string[]> {
  return withLock(async () => {
    rmSync(join(leaseDir(), `${process.pid}.json`), { force: true });
    const held = liveLeases();
    const stopped: string[] = [];
    for (const engine of [...ENGINES].reverse()) {
      const state = readState()[engine.name];
      if (state?.owner !== 'tests' || held.has(engine.name)) continue;
      const ctx = contextFor(engine, progress);
      await engine.stop(state, ctx);
      writeEngineState(engine.name, undefined);
      stopped.push(engine.name);
    }
    return stopped;
  });
}

/**
 * Stops `engines` if this harness recorded them as running. An engine a live test run holds a
 * lease on is left alone unless `force` (stopping it would fail that run).
 */
export async function down(
  engines: readonly Engine[],
  options: { progress?: Progress; force?: boolean } = {},
): Promise<{ stopped: string[]; inUse: Map<string, number[]> }> {
  return withLock(async () => {
    const stopped: string[] = [];
    const inUse = new Map<string, number[]>();
    const held = liveLeases();
    for (const engine of [...engines].reverse()) {
      const state = readState()[engine.name];
      if (!state) continue;
      const users = held.get(engine.name);
      if (users && !options.force) {
        // Hand it to the test runs: the last one to finish stops it.
        writeEngineState(engine.name, { ...state, owner: 'tests' });
        inUse.set(engine.name, users);
        continue;
      }
      const ctx = contextFor(engine, options.progress);
      ctx.progress(`stopping PID ${state.pid}`);
      await engine.stop(state, ctx);
      writeEngineState(engine.name, undefined);
      stopped.push(engine.name);
    }
    return { stopped, inUse };
  });
}

export interface EngineStatus {
  name: string;
  status: 'running' | 'unhealthy' | 'stopped';
  pid?: number;
  port?: number;
  owner?: 'cli' | 'tests';
  logPath: string;
  env: Record<string, string>;
}

export async function status(engines: readonly Engine[]): Promise<EngineStatus[]> {
  const all = readState();
  return Promise.all(
    engines.map(async (engine) => {
      const ctx = contextFor(engine);
      const state = all[engine.name];
      if (!state) return { name: engine.name, status: 'stopped' as const, logPath: ctx.logPath, env: {} };
      const ok = await engine.healthy(state, ctx);
      return {
        name: engine.name,
        status: ok ? ('running' as const) : ('unhealthy' as const),
        pid: state.pid,
        port: state.port,
        owner: state.owner,
        logPath: ctx.logPath,
        env: ok ? engine.env(state, ctx) : {},
      };
    }),
  );
}
