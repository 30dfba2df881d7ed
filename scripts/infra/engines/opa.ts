import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  choosePort,
  type Engine,
  type EngineContext,
  InfraError,
  pidAlive,
  REPO_ROOT,
  run,
  spawnDetached,
  stopPid,
  tail,
  waitFor,
} from '../engine';
import { goInstall, goInstalledPath } from '../opa/goInstall';

/** The OPA module on the Go module proxy. */
const OPA_MODULE = 'github.com/open-policy-agent/opa';
/** Newest release the Go proxy serves that go-get accepts on the machines' Go 1.26 (OPA 1.x: Rego v1 syntax). */
export const OPA_VERSION = 'v1.22.2';

/** The harness bundle: Rego + data kept in the repository, built to a .tar.gz at every start. */
export const OPA_BUNDLE_DIR = join(REPO_ROOT, 'scripts', 'infra', 'opa', 'bundle');
/** A rule of the harness bundle, for health checks and examples. */
export const OPA_SMOKE_PATH = 'soma/smoke/allow';

/**
 * Path of the `opa` binary this harness builds (`TOOLS_DIR/opa-<version>/bin/opa`). Throws an
 * InfraError when it has not been built yet: `npm run infra -- up opa` builds it.
 */
export function opaBinary(): string {
  const path = goInstalledPath('opa', OPA_VERSION, 'opa');
  if (!existsSync(path)) {
    throw new InfraError('opa', `${path} is not built yet; run: npm run infra -- up opa`);
  }
  return path;
}

/** Builds `opa` from the Go module proxy unless already built; returns its path. */
export function installOpa(ctx: EngineContext): Promise<string> {
  return goInstall({ engine: 'opa', ctx, tool: 'opa', pkg: OPA_MODULE, version: OPA_VERSION, binary: 'opa' });
}

export interface WasmBuildOptions {
  /** Rule paths to export, e.g. `['soma/smoke/allow']`. */
  entrypoints: readonly string[];
  /** Folder to write `bundle.tar.gz`, `policy.wasm` and `data.json` into (created). */
  outDir: string;
  /** Bundle folder (Rego + data.json + .manifest). @default OPA_BUNDLE_DIR */
  bundleDir?: string;
}

/**
 * `opa build -t wasm`: compiles the Rego of a bundle to WebAssembly for in-process evaluation with
 * `@open-policy-agent/opa-wasm`. Returns the extracted `policy.wasm` and the bundle's `data.json`
 * (data is not compiled into the wasm; pass it to `LoadedPolicy.setData`).
 */
export async function buildWasmPolicy(options: WasmBuildOptions): Promise<{ wasm: string; data: string }> {
  const bundleDir = options.bundleDir ?? OPA_BUNDLE_DIR;
  mkdirSync(options.outDir, { recursive: true });
  const tarball = join(options.outDir, 'bundle.tar.gz');
  const args = ['build', '-t', 'wasm', '-b', bundleDir, '-o', tarball];
  for (const entrypoint of options.entrypoints) args.push('-e', entrypoint);
  try {
    await run(opaBinary(), args);
    // The bundle tarball holds /policy.wasm and /data.json next to .manifest.
    await run('tar', ['-xzf', tarball, '-C', options.outDir, '/policy.wasm', '/data.json']);
  } catch (error) {
    throw new InfraError('opa', `opa build -t wasm failed: ${(error as Error).message}`);
  }
  return { wasm: join(options.outDir, 'policy.wasm'), data: join(options.outDir, 'data.json') };
}

async function answers(url: string): Promise<boolean> {
  try {
    const health = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
    if (!health.ok) return false;
    // Healthy is not enough: the bundle's policy must be loaded.
    const decision = await fetch(`${url}/v1/data/${OPA_SMOKE_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: {} }),
      signal: AbortSignal.timeout(2000),
    });
    return decision.ok && typeof ((await decision.json()) as { result?: unknown }).result === 'boolean';
  } catch {
    return false;
  }
}

/** Open Policy Agent server built from the Go module proxy, serving the harness bundle. */
export const opaEngine: Engine = {
  name: 'opa',
  description: `Open Policy Agent ${OPA_VERSION} (go install from the Go module proxy), REST on 127.0.0.1`,

  async install(ctx) {
    const opa = await installOpa(ctx);
    if (!existsSync('/bin/tar') && !existsSync('/usr/bin/tar')) {
      throw new InfraError(
        'opa',
        'tar is missing (needed to unpack wasm bundles); install Debian package tar',
      );
    }
    await run(opa, ['version']).catch((error: Error) => {
      throw new InfraError('opa', `${opa} does not run: ${error.message}`);
    });
  },

  async start(ctx) {
    const opa = opaBinary();
    const bundle = join(ctx.dir, 'bundle.tar.gz');
    rmSync(bundle, { force: true });
    ctx.progress(`opa build ${OPA_BUNDLE_DIR}`);
    try {
      await run(opa, ['build', '-b', OPA_BUNDLE_DIR, '-o', bundle], { logPath: ctx.logPath });
    } catch (error) {
      throw new InfraError('opa', `opa build failed: ${(error as Error).message}`, ctx.logPath);
    }
    const port = await choosePort('opa', process.env.SOMA_OPA_PORT, ctx.previousPort);
    const url = `http://127.0.0.1:${port}`;
    ctx.progress(`starting OPA on ${url}`);
    const child = spawnDetached(
      opa,
      [
        'run',
        '--server',
        '--addr',
        `127.0.0.1:${port}`,
        // Reports its version to a remote service otherwise; the machines reach no such host.
        '--disable-telemetry',
        '--log-level',
        'error',
        '--bundle',
        bundle,
      ],
      ctx.logPath,
    );
    const pid = child.pid;
    if (!pid) throw new InfraError('opa', `could not spawn ${opa}`, ctx.logPath);
    const ok = await waitFor(async () => !pidAlive(pid) || (await answers(url)), 30_000);
    if (!ok || !pidAlive(pid)) {
      if (pidAlive(pid)) await stopPid(pid, opa, 'SIGTERM');
      throw new InfraError('opa', `OPA did not become ready:\n${tail(ctx.logPath)}`, ctx.logPath);
    }
    return { pid, port, startedAt: new Date().toISOString(), details: { url, binary: opa, bundle } };
  },

  async healthy(state) {
    return pidAlive(state.pid) && (await answers(`http://127.0.0.1:${state.port}`));
  },

  env(state) {
    return { SOMA_OPA_URL: `http://127.0.0.1:${state.port}` };
  },

  async stop(state, ctx) {
    await stopPid(state.pid, state.details.binary ?? 'opa', 'SIGTERM');
    if (pidAlive(state.pid)) throw new InfraError('opa', `PID ${state.pid} did not stop`, ctx.logPath);
  },
};
