import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { type EngineContext, InfraError, pidAlive, run, sleep, TOOLS_DIR } from '../engine';

/**
 * Builds a Go command from the Go module proxy with `go install <package>@<version>` into
 * `TOOLS_DIR/<tool>-<version>/bin/`, once per machine (every clone reuses it). Used by the `opa`
 * and `temporal` engines; nothing in it is specific to either.
 */
export interface GoInstallOptions {
  /** Engine name, for errors and progress. */
  engine: string;
  ctx: EngineContext;
  /** Folder name under TOOLS_DIR, e.g. `opa` → `TOOLS_DIR/opa-v1.22.2/`. */
  tool: string;
  /** Package path with a `main`, e.g. `github.com/open-policy-agent/opa`. */
  pkg: string;
  /** Exact module version, e.g. `v1.22.2`. */
  version: string;
  /** Name of the binary `go install` writes (the last element of `pkg`). */
  binary: string;
  /** Passed as `-ldflags`, e.g. `-X main.version=...` for tools that stamp their version at release. */
  ldflags?: string;
}

/** Where `goInstall` puts (or has put) the binary. */
export function goInstalledPath(tool: string, version: string, binary: string): string {
  return join(TOOLS_DIR, `${tool}-${version}`, 'bin', binary);
}

/** The `go` command: `SOMA_GO` when set, else the first `go` on PATH, else /usr/local/go/bin/go. */
export function findGo(): string | undefined {
  if (process.env.SOMA_GO) return existsSync(process.env.SOMA_GO) ? process.env.SOMA_GO : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'go'))) return join(dir, 'go');
  }
  return existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined;
}

/** Returns the installed binary's path, building it first when it is missing. */
export async function goInstall(options: GoInstallOptions): Promise<string> {
  const { engine, ctx, tool, pkg, version, binary } = options;
  const target = goInstalledPath(tool, version, binary);
  // The binary is renamed into place only after a successful build, so existing means complete.
  if (existsSync(target)) return target;

  const go = findGo();
  if (!go) {
    throw new InfraError(
      engine,
      `the Go toolchain is missing: building ${pkg}@${version} needs "go" (Go >= 1.26) on PATH or SOMA_GO`,
    );
  }
  let goVersion = '';
  try {
    goVersion = execFileSync(go, ['env', 'GOVERSION'], { encoding: 'utf8' }).trim();
  } catch (error) {
    throw new InfraError(engine, `${go} does not run: ${(error as Error).message}`);
  }

  const toolDir = join(TOOLS_DIR, `${tool}-${version}`);
  mkdirSync(toolDir, { recursive: true });
  const release = await lockTool(toolDir, ctx);
  try {
    // Another process may have built it while this one waited for the lock.
    if (existsSync(target)) return target;
    await build({ ...options, target, toolDir, go, goVersion });
  } finally {
    release();
  }
  return target;
}

/**
 * One build per tool per machine: clones share TOOLS_DIR, and two `go install`s of the same
 * module at once would only double the minutes on 2 cores. A directory created atomically holds
 * the builder's PID; a dead builder's lock is taken over.
 */
async function lockTool(toolDir: string, ctx: EngineContext): Promise<() => void> {
  const lock = join(toolDir, '.lock');
  let reported = 0;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      return () => rmSync(lock, { recursive: true, force: true });
    } catch {
      let owner = 0;
      try {
        owner = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {
        // Between the owner's mkdir and its PID write.
      }
      if (owner && !pidAlive(owner)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (owner && owner !== reported) {
        ctx.progress(`waiting for PID ${owner}, which is building this tool (${toolDir})`);
        reported = owner;
      }
      await sleep(1000);
    }
  }
}

async function build(
  options: GoInstallOptions & { target: string; toolDir: string; go: string; goVersion: string },
) {
  const { engine, ctx, pkg, version, binary, ldflags, target, toolDir, go, goVersion } = options;
  // Built in a private staging dir, then renamed into place: nobody ever sees half a binary.
  const staging = join(toolDir, `.build-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const log = join(ctx.dir, 'install.log');
  const started = Date.now();
  ctx.progress(
    `building ${pkg}@${version} with ${goVersion} (go install, 2 parallel jobs; minutes on 2 cores; log: ${log})`,
  );
  const ticker = setInterval(
    () => ctx.progress(`still building ${binary} (${Math.round((Date.now() - started) / 1000)} s)`),
    30_000,
  );
  try {
    const flags = ldflags ? [`-ldflags=${ldflags}`] : [];
    await run(go, ['install', '-trimpath', ...flags, `${pkg}@${version}`], {
      logPath: log,
      env: {
        ...process.env,
        GOBIN: staging,
        // The machine is shared (2 cores): at most two compile jobs at once.
        GOFLAGS: `${process.env.GOFLAGS ?? ''} -p=2 -buildvcs=false`.trim(),
        // Pure-Go static binaries: no C compiler needed, nothing to link against at run time.
        CGO_ENABLED: '0',
      },
    });
    mkdirSync(dirname(target), { recursive: true });
    renameSync(join(staging, binary), target);
  } catch (error) {
    throw new InfraError(engine, `go install ${pkg}@${version} failed: ${(error as Error).message}`, log);
  } finally {
    clearInterval(ticker);
    rmSync(staging, { recursive: true, force: true });
  }
  ctx.progress(`built ${target} in ${Math.round((Date.now() - started) / 1000)} s`);
}
