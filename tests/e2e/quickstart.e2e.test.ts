import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type StartedProcess, startProcess } from '../support/startProcess';

const root = resolve(import.meta.dirname, '../..');
let dataDir: string;
let server: StartedProcess;
let url: string;

// `npm start` as a user runs it: a separate process on embedded defaults, fresh data dir.
beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'soma-quickstart-'));
  const port = await freePort();
  url = `http://127.0.0.1:${port}/graphql`;
  server = await startProcess('npm', ['start', '--silent'], {
    cwd: root,
    env: embeddedEnv({ SOMA_PORT: String(port), SOMA_DATA_DIR: dataDir }),
    readyLine: /GraphQL endpoint: \S+/,
  });
  console.log(
    `npm start: ready after ${server.readyAfterMs} ms (spawn to ready line, embedded PGlite, cold data dir)`,
  );
});

afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** This process's env minus every SOMA_* setting (the harness exports its servers'): embedded mode. */
function embeddedEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('SOMA_')) delete env[key];
  return { ...env, ...extra };
}

/** The ```sh blocks of docs/quickstart.md, minus the first (which starts the server). */
function quickstartScript(): string {
  const doc = readFileSync(join(root, 'docs/quickstart.md'), 'utf8');
  const blocks = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  expect(blocks.length).toBeGreaterThan(5);
  return ['set -euo pipefail', ...blocks.slice(1)].join('\n');
}

describe('docs/quickstart.md, executed verbatim', () => {
  it('prints the endpoint and serves GraphiQL', async () => {
    expect(server.output()).toContain(url);
    expect(server.output()).toContain('(pglite database, in-process events, in-memory session streams)');
    const page = await fetch(url, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/graphiql/i);
  });

  it('creates tenant → user → API key → token → query', () => {
    const out = execFileSync('bash', ['-c', quickstartScript()], {
      cwd: root,
      env: { ...process.env, SOMA_URL: url, SOMA_DATA_DIR: dataDir },
      encoding: 'utf8',
      timeout: 90_000,
    });
    expect(out).toContain('"slug": "acme"');
    expect(out).toContain('ada@acme.test');
    expect(out).toContain('admin@acme.test');
    expect(out).toContain('"authMethod": "API_KEY"');
    expect(out).toMatch(/"tenant": \{\s*"slug": "acme"\s*\}/);
    expect(out).toContain('"totalCount": 2');
    expect(out).toContain('"FORBIDDEN"');
    // Step 8: the embedded engine answered, with engine-counted usage stored.
    const summary = JSON.parse(out.slice(out.lastIndexOf('{\n  "usage"')));
    expect(summary.answer.status).toBe('COMPLETE');
    expect(['stop', 'length']).toContain(summary.answer.finishReason);
    expect(summary.answer.completionTokens).toBeGreaterThan(0);
    expect(summary.usage.completionTokens).toBe(summary.answer.completionTokens);
    expect(summary.usage.promptTokens).toBeGreaterThan(0);
  });
});
