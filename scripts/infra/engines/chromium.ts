import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Engine, type EngineContext, InfraError, run } from '../engine';

/** Debian 12's `chromium` (security updates track the stable channel). */
const CHROMIUM = '/usr/bin/chromium';
const isRoot = () => process.getuid?.() === 0;

/** `apt-get update` then `apt-get install -y chromium` (root only; waits for a dpkg lock held by another install). */
async function installWithApt(ctx: EngineContext) {
  if (!isRoot() || !existsSync('/usr/bin/apt-get')) {
    throw new InfraError(
      'chromium',
      `Chromium is not installed (no ${CHROMIUM}). Install the Debian package "chromium" ` +
        '(apt-get install -y chromium), or run as root on Debian so the harness installs it.',
    );
  }
  const log = join(ctx.dir, 'install.log');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const lockWait = ['-o', 'DPkg::Lock::Timeout=300'];
  ctx.progress('chromium not found: apt-get update (output in install.log)');
  await run('apt-get', [...lockWait, 'update'], { logPath: log, env }).catch((e: Error) => {
    throw new InfraError('chromium', `apt-get update failed: ${e.message}`, log);
  });
  ctx.progress('apt-get install -y chromium (about 100 MB)');
  await run('apt-get', [...lockWait, 'install', '-y', '--no-install-recommends', 'chromium'], {
    logPath: log,
    env,
  }).catch((e: Error) => {
    throw new InfraError('chromium', `apt-get install chromium failed: ${e.message}`, log);
  });
  if (!existsSync(CHROMIUM)) {
    throw new InfraError('chromium', `apt-get installed chromium but ${CHROMIUM} is missing`, log);
  }
}

/**
 * Debian's Chromium for the browser tests (`@playwright/mcp` drives it headless). A browser, not
 * a server: nothing runs between tests; each test launches its own and closes it.
 */
export const chromiumEngine: Engine = {
  name: 'chromium',
  description: 'Chromium (Debian package), launched headless by the browser tests; no server',

  async install(ctx) {
    if (!existsSync(CHROMIUM)) await installWithApt(ctx);
  },

  async start(ctx) {
    let version: string;
    try {
      version = (await run(CHROMIUM, ['--headless', '--no-sandbox', '--version'])).trim();
    } catch (error) {
      throw new InfraError('chromium', `${CHROMIUM} does not run: ${(error as Error).message}`, ctx.logPath);
    }
    ctx.progress(version);
    return { pid: 0, port: 0, startedAt: new Date().toISOString(), details: { binary: CHROMIUM, version } };
  },

  async healthy(state) {
    return existsSync(state.details.binary ?? CHROMIUM);
  },

  env(state) {
    return { SOMA_CHROMIUM: state.details.binary ?? CHROMIUM };
  },

  async stop() {
    // Nothing runs between tests.
  },
};
