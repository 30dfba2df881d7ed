import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
  TOOLS_DIR,
  tail,
  waitFor,
} from '../engine';

/** Debian 12's package (bookworm and its security updates), unpacked rather than installed. */
export const PROMETHEUS_DEB = 'prometheus';
const toolDir = () => join(TOOLS_DIR, `prometheus-deb12`);
/** `TOOLS_DIR/prometheus-deb12/usr/bin/<binary>`: `prometheus` or `promtool`. */
export const prometheusBinary = (name: 'prometheus' | 'promtool') => join(toolDir(), 'usr', 'bin', name);

const targetsDir = (ctx: EngineContext) => join(ctx.dir, 'targets');

/**
 * Fetches Debian's `prometheus` .deb with apt (`apt-get download`: no install, so no service is
 * registered or started) and unpacks it into the tool cache. The binaries are static Go builds.
 */
async function unpackDeb(ctx: EngineContext) {
  if (!existsSync('/usr/bin/apt-get') || !existsSync('/usr/bin/dpkg-deb')) {
    throw new InfraError(
      'prometheus',
      'apt-get and dpkg-deb are needed to fetch Debian\'s "prometheus" package',
    );
  }
  const log = join(ctx.dir, 'install.log');
  const staging = `${toolDir()}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  ctx.progress(`apt-get download ${PROMETHEUS_DEB} (output in ${log})`);
  const download = () => run('apt-get', ['download', PROMETHEUS_DEB], { cwd: staging, logPath: log });
  try {
    await download().catch(async () => {
      // A machine whose package lists were never fetched knows no candidate yet.
      await run('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'update'], { logPath: log });
      await download();
    });
    const deb = readdirSync(staging).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error('apt-get download left no .deb');
    await run('dpkg-deb', ['-x', deb, '.'], { cwd: staging, logPath: log });
    rmSync(join(staging, deb));
    if (!existsSync(join(staging, 'usr', 'bin', 'prometheus')))
      throw new Error('the package has no usr/bin/prometheus');
    // Renamed into place only when complete, so an existing folder means a usable one.
    renameSync(staging, toolDir());
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw new InfraError('prometheus', `fetching Prometheus failed: ${(error as Error).message}`, log);
  }
}

async function ready(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/-/ready`, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}

const processMarker = (port: number) => `127.0.0.1:${port}`;

/**
 * A real Prometheus server (Debian 12's 2.42 binaries) scraping what the tests register: every
 * JSON file in `SOMA_PROMETHEUS_TARGETS_DIR` is a file_sd target list (`[{ "targets":
 * ["127.0.0.1:9464"], "labels": { "job": "..." } }]`), re-read every second and scraped every
 * second. `promtool` (same package) checks and unit-tests alert rules.
 */
export const prometheusEngine: Engine = {
  name: 'prometheus',
  description:
    "Prometheus server and promtool (Debian 12's package, unpacked into the tool cache), 127.0.0.1",

  async install(ctx) {
    if (!existsSync(prometheusBinary('prometheus'))) await unpackDeb(ctx);
    await run(prometheusBinary('prometheus'), ['--version']).catch((error: Error) => {
      throw new InfraError('prometheus', `${prometheusBinary('prometheus')} does not run: ${error.message}`);
    });
  },

  async start(ctx) {
    const port = await choosePort('prometheus', process.env.SOMA_PROMETHEUS_PORT, ctx.previousPort);
    mkdirSync(targetsDir(ctx), { recursive: true });
    const config = join(ctx.dir, 'prometheus.yml');
    writeFileSync(
      config,
      [
        '# Written by scripts/infra/engines/prometheus.ts on every start; edits are lost.',
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        '  evaluation_interval: 1s',
        'scrape_configs:',
        '  - job_name: soma-tests',
        '    file_sd_configs:',
        `      - files: ['${targetsDir(ctx)}/*.json']`,
        '        refresh_interval: 1s',
        '',
      ].join('\n'),
    );
    const data = join(ctx.dir, 'data');
    rmSync(data, { recursive: true, force: true });
    ctx.progress(`starting Prometheus on 127.0.0.1:${port}`);
    const child = spawnDetached(
      prometheusBinary('prometheus'),
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${data}`,
        `--web.listen-address=${processMarker(port)}`,
        '--storage.tsdb.retention.time=1d',
        '--log.level=warn',
      ],
      ctx.logPath,
    );
    const pid = child.pid;
    if (!pid) throw new InfraError('prometheus', 'could not spawn prometheus', ctx.logPath);
    const ok = await waitFor(async () => !pidAlive(pid) || (await ready(port)), 60_000);
    if (!ok || !pidAlive(pid)) {
      if (pidAlive(pid)) await stopPid(pid, processMarker(port), 'SIGTERM');
      throw new InfraError(
        'prometheus',
        `Prometheus did not become ready:\n${tail(ctx.logPath)}`,
        ctx.logPath,
      );
    }
    return { pid, port, startedAt: new Date().toISOString(), details: { config } };
  },

  async healthy(state) {
    return (
      pidAlive(state.pid) &&
      pidCommandLine(state.pid).includes(processMarker(state.port)) &&
      (await ready(state.port))
    );
  },

  env(state, ctx) {
    return {
      SOMA_PROMETHEUS_URL: `http://127.0.0.1:${state.port}`,
      SOMA_PROMETHEUS_TARGETS_DIR: targetsDir(ctx),
      SOMA_PROMTOOL: prometheusBinary('promtool'),
    };
  },

  async stop(state, ctx) {
    await stopPid(state.pid, processMarker(state.port), 'SIGTERM');
    if (pidAlive(state.pid)) throw new InfraError('prometheus', `PID ${state.pid} did not stop`, ctx.logPath);
  },
};
