/**
 * `npm run infra -- <command> [engine...]`: local servers for tests and development.
 *
 *   up      start engines (all when none named); a running healthy engine is left alone
 *   down    stop engines this harness started (not while a test run uses them, unless --force)
 *   status  state, PID, port and log of each engine
 *   logs    the last lines of each engine's log (`-n 200` for more)
 *   env     `export NAME=value` lines pointing SomaAgent at the running engines
 *
 * State lives in `.cache/infra/` (git-ignored): `<engine>/` data dirs and logs, `state.json`.
 */
import { existsSync } from 'node:fs';
import { INFRA_DIR, InfraError, tail } from './engine';
import { ENGINE_NAMES } from './engines/index';
import { contextFor, down, resolveEngines, status, up } from './infra';

const USAGE = `usage: npm run infra -- <up|down|status|logs|env> [engine...]   (engines: ${ENGINE_NAMES.join(', ')})`;

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
const progress = (engine: string, message: string) => console.error(`[${elapsed()}] ${engine}: ${message}`);

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  let lines = 50;
  let force = false;
  const names: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '-n') lines = Number(rest[++i]) || lines;
    else if (rest[i] === '--force') force = true;
    else names.push(rest[i]!);
  }
  if (!command || command === '-h' || command === '--help') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  const engines = resolveEngines(names);
  switch (command) {
    case 'up': {
      const result = await up(engines, { progress, owner: 'cli' });
      for (const engine of engines) {
        console.error(
          `[${elapsed()}] ${engine.name}: ${result.started.includes(engine.name) ? 'started' : 'already running'}`,
        );
      }
      console.error(`env: npm run infra -- env ${names.join(' ')}`.trimEnd());
      return 0;
    }
    case 'down': {
      const { stopped, inUse } = await down(engines, { progress, force });
      console.error(stopped.length ? `stopped: ${stopped.join(', ')}` : 'nothing stopped');
      for (const [name, pids] of inUse) {
        console.error(
          `${name}: in use by test run PID ${pids.join(', ')}: the last of them stops it (--force stops it now)`,
        );
      }
      return 0;
    }
    case 'status': {
      const rows = await status(engines);
      console.log(['engine', 'status', 'pid', 'port', 'owner', 'log'].map((h) => h.padEnd(10)).join(' '));
      for (const r of rows) {
        console.log(
          [r.name, r.status, String(r.pid ?? '-'), String(r.port ?? '-'), r.owner ?? '-']
            .map((v) => v.padEnd(10))
            .join(' '),
          r.logPath,
        );
      }
      return rows.every((r) => r.status !== 'unhealthy') ? 0 : 1;
    }
    case 'env': {
      for (const r of await status(engines)) {
        if (r.status !== 'running') console.error(`# ${r.name} is ${r.status}`);
        for (const [k, v] of Object.entries(r.env)) console.log(`export ${k}='${v}'`);
      }
      return 0;
    }
    case 'logs': {
      for (const engine of engines) {
        const { logPath } = contextFor(engine);
        console.log(`==> ${logPath} <==`);
        console.log(existsSync(logPath) ? tail(logPath, lines) : '(no log yet)');
      }
      return 0;
    }
    default:
      console.error(`unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof InfraError) console.error(error.message);
    else if (error instanceof Error && error.message.startsWith('unknown engine'))
      console.error(error.message);
    else console.error(error);
    console.error(`(state: ${INFRA_DIR})`);
    process.exit(1);
  },
);
