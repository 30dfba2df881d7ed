import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type StartedProcess, startProcess } from '../support/startProcess';

const root = resolve(import.meta.dirname, '../..');
const recorder = join(root, 'tests/support/recordModuleLoads.mjs');

/** The vendor SDKs of engines `npm start` does not select on embedded defaults. */
const VENDOR_SDKS: Record<string, RegExp> = {
  'Temporal (@temporalio/*)': /\/node_modules\/@temporalio\//,
  'AWS SDK (@aws-sdk/*)': /\/node_modules\/@aws-sdk\//,
  kafkajs: /\/node_modules\/kafkajs\//,
  ioredis: /\/node_modules\/ioredis\//,
  'pg (node-postgres)': /\/node_modules\/(pg|pg-pool|pg-protocol)\//,
};

/** This process's env minus every SOMA_* setting (the harness exports its servers'): embedded mode. */
function embeddedEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('SOMA_')) delete env[key];
  return { ...env, ...extra };
}

let dataDir: string;
let server: StartedProcess | undefined;
let log: string;

// `npm start` on embedded defaults, every node process of it (npm, tsx, the platform) recording
// the modules it loads; read after it stopped, so the platform's exit record is in the log.
beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'soma-lean-start-'));
  log = join(dataDir, 'modules.log');
  const port = await freePort();
  server = await startProcess('npm', ['start', '--silent'], {
    cwd: root,
    env: embeddedEnv({
      SOMA_PORT: String(port),
      SOMA_DATA_DIR: dataDir,
      SOMA_TEST_MODULE_LOG: log,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${recorder}`.trim(),
    }),
    readyLine: /GraphQL endpoint: \S+/,
  });
  // A request through the router and a subgraph, so lazily loaded request paths count too.
  const answer = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ __typename }' }),
  });
  expect(answer.status).toBe(200);
  await server[Symbol.asyncDispose]();
  server = undefined;
}, 120_000);

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start on embedded defaults stays lean', () => {
  it('loads no vendor SDK of an engine it did not select', () => {
    const lines = readFileSync(log, 'utf8').split('\n');
    const platformPid = lines
      .find((l) => /^\d+ argv .*\bscripts\/start\.ts$/.test(l) && !/tsx/.test(l))
      ?.split(' ')[0];
    expect(platformPid, 'the platform process recorded its start').toBeDefined();
    expect(lines, 'the platform process recorded its exit (CommonJS modules included)').toContain(
      `${platformPid} exit`,
    );
    // The recorder works: the embedded database's package was seen loading.
    expect(
      lines.some((l) => l.startsWith(`${platformPid} `) && l.includes('/node_modules/@electric-sql/pglite/')),
    ).toBe(true);
    const loaded = Object.entries(VENDOR_SDKS).flatMap(([name, pattern]) => {
      const hit = lines.find((l) => pattern.test(l));
      return hit ? [`${name}: ${hit}`] : [];
    });
    expect(loaded).toEqual([]);
  });
});
