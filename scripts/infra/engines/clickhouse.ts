import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { type Engine, type EngineState, InfraError, REPO_ROOT, run, TOOLS_DIR } from '../engine';

/**
 * npm `chdb`: the ClickHouse engine as a library (libchdb.so, ~550 MB, shipped inside the npm
 * package `@chdb/lib-linux-x64-gnu`, ClickHouse 26.7). No registry we reach ships a modern
 * ClickHouse *server*: Debian's is 18.16 (2018: no query parameters, DateTime64 or Map), PyPI's
 * chdb-core has the server code but no way to start it (`SYSTEM START LISTEN` fails:
 * start_servers_callback is not set). 3.4.0: the newest chdb; its `chdb/connection` plugs into
 * `@clickhouse/client`'s `createClient({ connection })` (peer `@clickhouse/client >= 1.23`, as the
 * root package has).
 */
export const CHDB_VERSION = '3.4.0';

/** A package.json naming the exact version of every package of chDB's (small) dependency tree. */
const CHDB_MANIFEST_DIR = join(REPO_ROOT, 'scripts', 'infra', 'clickhouse', 'chdb');

/** `TOOLS_DIR/chdb-<version>`: where `install` puts chDB; pass it to `createChdbClickHouseClient`. */
export const chdbDir = () => join(TOOLS_DIR, `chdb-${CHDB_VERSION}`);
const libchdb = (dir: string) => join(dir, 'node_modules', '@chdb', 'lib-linux-x64-gnu', 'libchdb.so');

function findNpm(): string | undefined {
  // npm next to the node running the harness, else the first on PATH.
  const candidates = [
    join(dirname(process.execPath), 'npm'),
    ...(process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'npm')),
  ];
  return candidates.find((path) => path && existsSync(path));
}

/** Runs in a child process: loads chDB (the 550 MB library stays out of the harness process). */
const PROBE = `
const { createChdbConnection } = require('chdb/connection');
const connection = createChdbConnection({ path: ':memory:' });
connection.query({ query: 'SELECT version() AS version FORMAT JSONEachRow' }).then(async (result) => {
  let out = '';
  for await (const chunk of result.stream) out += chunk;
  await connection.close();
  process.stdout.write('\\nchdb-version=' + JSON.parse(out).version + '\\n');
}).catch((error) => { console.error(error); process.exit(1); });
`;

async function probeVersion(dir: string): Promise<string> {
  const output = await run(process.execPath, ['-e', PROBE], { cwd: dir });
  return /^chdb-version=(.*)$/m.exec(output)?.[1] ?? output.trim();
}

/**
 * The ClickHouse engine for the tests, embedded: chDB installed from npm into TOOLS_DIR and used
 * in-process through `@clickhouse/client` (see `scripts/infra/clickhouse/chdbClient.ts`). There
 * is no server process: `start` proves the library loads and answers SQL on this machine and
 * prepares the data folder; `stop` has nothing to stop. The state's `pid` is 0.
 */
export const clickhouseEngine: Engine = {
  name: 'clickhouse',
  description: `ClickHouse engine in-process (npm chdb ${CHDB_VERSION} in TOOLS_DIR) via @clickhouse/client; no server`,

  async install(ctx) {
    const target = chdbDir();
    // Renamed into place only after a complete `npm install`, so existing means complete.
    if (existsSync(libchdb(target))) return;
    if (process.platform !== 'linux' || process.arch !== 'x64') {
      throw new InfraError(
        'clickhouse',
        `chdb ${CHDB_VERSION} is pinned for linux-x64 here; this is ${process.platform}-${process.arch}`,
      );
    }
    const npm = findNpm();
    if (!npm) throw new InfraError('clickhouse', 'npm is missing: installing chdb needs "npm" on PATH');
    const staging = `${target}.build-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    copyFileSync(join(CHDB_MANIFEST_DIR, 'package.json'), join(staging, 'package.json'));
    const log = join(ctx.dir, 'install.log');
    const started = Date.now();
    ctx.progress(`installing npm chdb@${CHDB_VERSION} (~550 MB) into ${target} (log: ${log})`);
    try {
      // Every package is pinned exactly in package.json, so no lock file is needed (npm writes
      // one without the other platforms' optional libraries, which `npm ci` then rejects).
      await run(npm, ['install', '--omit=dev', '--no-package-lock', '--no-audit', '--no-fund'], {
        cwd: staging,
        logPath: log,
      });
      if (!existsSync(libchdb(staging))) {
        throw new Error(
          `npm install finished but ${libchdb(staging)} is missing (optional dependency skipped?)`,
        );
      }
      mkdirSync(dirname(target), { recursive: true });
      rmSync(target, { recursive: true, force: true });
      renameSync(staging, target);
    } catch (error) {
      rmSync(staging, { recursive: true, force: true });
      throw new InfraError('clickhouse', `installing chdb failed: ${(error as Error).message}`, log);
    }
    ctx.progress(`installed chdb in ${Math.round((Date.now() - started) / 1000)} s`);
  },

  async start(ctx) {
    const dir = chdbDir();
    ctx.progress('loading chDB and running SELECT version()');
    let version: string;
    try {
      version = await probeVersion(dir);
    } catch (error) {
      throw new InfraError('clickhouse', `chDB does not load: ${(error as Error).message}`, ctx.logPath);
    }
    if (!/^\d+\.\d+/.test(version)) {
      throw new InfraError('clickhouse', `chDB answered "${version}" to SELECT version()`, ctx.logPath);
    }
    const dataDir = join(ctx.dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(ctx.logPath, `chDB ${CHDB_VERSION}: ClickHouse ${version} loads from ${dir}\n`, {
      flag: 'a',
    });
    return {
      pid: 0,
      port: 0,
      startedAt: new Date().toISOString(),
      details: { chdbDir: dir, dataDir, version },
    };
  },

  async healthy(state: EngineState) {
    const dir = state.details.chdbDir;
    const dataDir = state.details.dataDir;
    return Boolean(dir && dataDir && existsSync(libchdb(dir)) && existsSync(dataDir));
  },

  env(state) {
    return {
      SOMA_CLICKHOUSE_CHDB_DIR: state.details.chdbDir ?? chdbDir(),
      SOMA_CLICKHOUSE_DATA_DIR: state.details.dataDir ?? '',
      SOMA_CLICKHOUSE_VERSION: state.details.version ?? '',
    };
  },

  async stop() {
    // In-process engine: each client closes its own session; nothing runs between tests.
  },
};
