import { existsSync } from 'node:fs';
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

/** The official Temporal CLI (`temporal server start-dev`) on the Go module proxy. */
const CLI_PACKAGE = 'github.com/temporalio/cli/cmd/temporal';
/**
 * Newest CLI release the Go proxy serves that `go install` accepts: v1.9.1 has a `replace`
 * directive (go install refuses it) for a nested module the proxy does not serve. Bundles
 * Temporal Server 1.29.1.
 */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
/** The namespace the dev server creates and SomaAgent uses. */
export const TEMPORAL_NAMESPACE = 'default';

/** Path of the built `temporal` CLI; throws when not built yet (`npm run infra -- up temporal`). */
export function temporalBinary(): string {
  const path = goInstalledPath('temporal-cli', TEMPORAL_CLI_VERSION, 'temporal');
  if (!existsSync(path)) {
    throw new InfraError('temporal', `${path} is not built yet; run: npm run infra -- up temporal`);
  }
  return path;
}

/** Builds the CLI from the Go module proxy unless already built; returns its path. */
export function installTemporalCli(ctx: EngineContext): Promise<string> {
  return goInstall({
    engine: 'temporal',
    ctx,
    tool: 'temporal-cli',
    pkg: CLI_PACKAGE,
    version: TEMPORAL_CLI_VERSION,
    binary: 'temporal',
    // Release builds stamp the version this way; without it `temporal --version` says 0.0.0-DEV.
    ldflags: `-X github.com/temporalio/cli/temporalcli.Version=${TEMPORAL_CLI_VERSION.slice(1)}`,
  });
}

/**
 * Ready when the frontend's HTTP API (served by the same frontend service as gRPC) reports the
 * namespace registered: the server has finished starting and clients can use it.
 */
async function namespaceRegistered(httpPort: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${httpPort}/api/v1/namespaces/${TEMPORAL_NAMESPACE}`, {
      signal: AbortSignal.timeout(2000),
    });
    if (!response.ok) return false;
    const body = (await response.json()) as { namespaceInfo?: { state?: string } };
    return body.namespaceInfo?.state === 'NAMESPACE_STATE_REGISTERED';
  } catch {
    return false;
  }
}

/** Temporal dev server (`temporal server start-dev`: all services in one process, SQLite file). */
export const temporalEngine: Engine = {
  name: 'temporal',
  description: `Temporal dev server (temporal CLI ${TEMPORAL_CLI_VERSION}, go install from the Go module proxy), SQLite, 127.0.0.1`,

  async install(ctx) {
    const temporal = await installTemporalCli(ctx);
    await run(temporal, ['--version']).catch((error: Error) => {
      throw new InfraError('temporal', `${temporal} does not run: ${error.message}`);
    });
  },

  async start(ctx) {
    const temporal = temporalBinary();
    const port = await choosePort('temporal', process.env.SOMA_TEMPORAL_PORT, ctx.previousPort);
    // The other listeners take any free port; only the gRPC address is configuration.
    const httpPort = await choosePort('temporal', undefined);
    const uiPort = await choosePort('temporal', process.env.SOMA_TEMPORAL_UI_PORT);
    const metricsPort = await choosePort('temporal', undefined);
    const db = join(ctx.dir, 'temporal.db');
    ctx.progress(
      `starting Temporal dev server on 127.0.0.1:${port} (UI http://127.0.0.1:${uiPort}, state ${db})`,
    );
    const child = spawnDetached(
      temporal,
      [
        'server',
        'start-dev',
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--http-port',
        String(httpPort),
        '--ui-port',
        String(uiPort),
        '--metrics-port',
        String(metricsPort),
        // Workflows, histories and namespaces survive restarts (in-memory without it).
        '--db-filename',
        db,
        '--namespace',
        TEMPORAL_NAMESPACE,
        '--log-level',
        'warn',
        // The transfer queue (which hands every new workflow and activity task to matching) polls
        // at most 20 times a second by default: two hand-offs per capsule step made every step
        // cost ~100 ms here (bench/capsules: 100 → 17 ms per step with this; docs/capsules.md).
        '--dynamic-config-value',
        'history.transferProcessorMaxPollRPS=1000',
      ],
      ctx.logPath,
    );
    const pid = child.pid;
    if (!pid) throw new InfraError('temporal', `could not spawn ${temporal}`, ctx.logPath);
    const ok = await waitFor(
      async () => !pidAlive(pid) || (await namespaceRegistered(httpPort)),
      60_000,
      200,
    );
    if (!ok || !pidAlive(pid)) {
      if (pidAlive(pid)) await stopPid(pid, temporal, 'SIGTERM');
      throw new InfraError('temporal', `dev server did not become ready:\n${tail(ctx.logPath)}`, ctx.logPath);
    }
    return {
      pid,
      port,
      startedAt: new Date().toISOString(),
      details: {
        binary: temporal,
        httpPort: String(httpPort),
        uiPort: String(uiPort),
        metricsPort: String(metricsPort),
        db,
      },
    };
  },

  async healthy(state) {
    return pidAlive(state.pid) && (await namespaceRegistered(Number(state.details.httpPort)));
  },

  env(state) {
    return {
      SOMA_TEMPORAL_ADDRESS: `127.0.0.1:${state.port}`,
      SOMA_TEMPORAL_NAMESPACE: TEMPORAL_NAMESPACE,
      SOMA_TEMPORAL_UI_URL: `http://127.0.0.1:${state.details.uiPort}`,
    };
  },

  async stop(state, ctx) {
    // SIGTERM: the dev server stops its services and closes the SQLite file cleanly.
    await stopPid(state.pid, state.details.binary ?? 'temporal', 'SIGTERM', 30_000);
    if (pidAlive(state.pid)) throw new InfraError('temporal', `PID ${state.pid} did not stop`, ctx.logPath);
  },
};
