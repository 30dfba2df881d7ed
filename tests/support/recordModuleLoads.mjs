// Preloaded with `node --import` (through NODE_OPTIONS) by tests/e2e/leanStart.e2e.test.ts:
// appends every module this process loads to the file $SOMA_TEST_MODULE_LOG, one a line, as
// `<pid> <url or path>`. ES modules come from a resolve hook (it runs after every other loader's,
// tsx's included, and only records what they resolved); CommonJS ones from require.cache at exit.
// Plain .mjs: it runs before tsx is installed, and in the hooks thread.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const log = process.env.SOMA_TEST_MODULE_LOG;
if (log) {
  appendFileSync(log, `${process.pid} argv ${process.argv.join(' ')}\n`);
  register(new URL('./recordModuleLoadsHooks.mjs', import.meta.url), { data: { log, pid: process.pid } });
  const require = createRequire(import.meta.url);
  process.on('exit', () => {
    const files = Object.keys(require.cache);
    appendFileSync(
      log,
      `${files.map((file) => `${process.pid} cjs ${file}\n`).join('')}${process.pid} exit\n`,
    );
  });
}
