import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Engine,
  type EngineContext,
  type EngineState,
  INFRA_DIR,
  InfraError,
  pidAlive,
  readState,
  sleep,
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
async function withLock<T>(work: () => Promise<T>): Promise<T> {
  const lock = join(INFRA_DIR, 'lock');
  mkdirSync(INFRA_DIR, { recursive: true });
  const deadline = Date.now() + 10 * 60_000;
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

/** Brings `engines` up; an engine already running and healthy is left alone. */
export async function up(engines: readonly Engine[], progress?: Progress): Promise<UpResult> {
  return withLock(async () => {
    const result: UpResult = { env: {}, started: [] };
    for (const engine of engines) {
      const ctx = contextFor(engine, progress);
      let state: EngineState | undefined = readState()[engine.name];
      if (state && !(await engine.healthy(state, ctx))) {
        ctx.progress(`recorded PID ${state.pid} is not healthy; restarting`);
        await engine.stop(state, ctx).catch(() => undefined);
        writeEngineState(engine.name, undefined);
        state = undefined;
      }
      if (!state) {
        try {
          await engine.install(ctx);
          state = await engine.start(ctx);
        } catch (error) {
          if (error instanceof InfraError) throw error;
          throw new InfraError(engine.name, (error as Error).message, ctx.logPath);
        }
        writeEngineState(engine.name, state);
        writeFileSync(join(ctx.dir, 'last-port'), String(state.port));
        result.started.push(engine.name);
      }
      Object.assign(result.env, engine.env(state, ctx));
    }
    return result;
  });
}

/** Stops `engines` if this harness recorded them as running. */
export async function down(engines: readonly Engine[], progress?: Progress): Promise<string[]> {
  return withLock(async () => {
    const stopped: string[] = [];
    for (const engine of [...engines].reverse()) {
      const state = readState()[engine.name];
      if (!state) continue;
      const ctx = contextFor(engine, progress);
      ctx.progress(`stopping PID ${state.pid}`);
      await engine.stop(state, ctx);
      writeEngineState(engine.name, undefined);
      stopped.push(engine.name);
    }
    return stopped;
  });
}

export interface EngineStatus {
  name: string;
  status: 'running' | 'unhealthy' | 'stopped';
  pid?: number;
  port?: number;
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
        logPath: ctx.logPath,
        env: ok ? engine.env(state, ctx) : {},
      };
    }),
  );
}
