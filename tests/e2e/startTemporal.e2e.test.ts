import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ADMIN_PASSWORD, gql } from '../support/platform';
import { createTestDatabase, type TestPostgresSqlDatabase } from '../support/postgres';
import { freePort, type StartedProcess, startProcess } from '../support/startProcess';

// `npm start` with SOMA_TEMPORAL_* (and the PostgreSQL server it then needs) starts capsule runs
// on the harness's Temporal server; `npm run worker` (SOMA_WORKER_ENGINE=temporal), a separate
// process on the same database and task queue, executes them.
const root = resolve(import.meta.dirname, '../..');
const temporal = inject('temporal');
const taskQueue = `soma-start-${randomUUID()}`;
const platformAdminKey = `sk_platform_${randomBytes(32).toString('base64url')}`;
const SHOUT = `name: shout
version: 1.0.0
inputs: { type: object, required: [word], properties: { word: { type: string } } }
steps:
  - { id: echo, kind: toolCall, tool: soma.echo, args: { text: "{{inputs.word}}!" } }
outputs: { text: "{{steps.echo.output.text}}" }
`;

/** This process's env minus every SOMA_* setting (the harness exports its servers'), plus `extra`. */
function onlyEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('SOMA_')) delete env[key];
  return { ...env, ...extra };
}

const urlOf = (base: string, database: string) => {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
};

let db: TestPostgresSqlDatabase;
let tmp: string;
let server: StartedProcess | undefined;
let worker: StartedProcess | undefined;
let url: string;

beforeAll(async () => {
  db = await createTestDatabase();
  tmp = mkdtempSync(join(tmpdir(), 'soma-start-temporal-'));
  const postgres = inject('postgres');
  const appUrl = urlOf(postgres.appUrl, db.databaseName);
  const common = {
    SOMA_DATABASE_URL: appUrl,
    SOMA_TEMPORAL_ADDRESS: temporal.address,
    SOMA_TEMPORAL_NAMESPACE: temporal.namespace,
    SOMA_TEMPORAL_TASK_QUEUE: taskQueue,
  };
  const port = await freePort();
  url = `http://127.0.0.1:${port}/graphql`;
  // The platform migrates; the worker bundles the workflows at start-up (tens of seconds).
  server = await startProcess('npm', ['start', '--silent'], {
    cwd: root,
    env: onlyEnv({
      ...common,
      SOMA_DATABASE_OWNER_URL: urlOf(postgres.ownerUrl, db.databaseName),
      SOMA_PORT: String(port),
      SOMA_DATA_DIR: join(tmp, 'data'),
      SOMA_PLATFORM_ADMIN_KEY: platformAdminKey,
    }),
    readyLine: /JWKS: +\S+/,
    timeoutMs: 120_000,
  });
  worker = await startProcess('npm', ['run', '--silent', 'worker'], {
    cwd: root,
    env: onlyEnv({ ...common, SOMA_WORKER_ENGINE: 'temporal', SOMA_ARTIFACTS_DIR: join(tmp, 'artifacts') }),
    readyLine: /worker ready: temporal task queue/,
    timeoutMs: 240_000,
  });
}, 400_000);

afterAll(async () => {
  await worker?.[Symbol.asyncDispose]();
  await server?.[Symbol.asyncDispose]();
  await db?.[Symbol.asyncDispose]();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('npm start on Temporal, runs executed by npm run worker', () => {
  it('names Temporal in its banner', () => {
    expect(server!.output()).toContain(
      `capsule runs Temporal ${temporal.address} namespace ${temporal.namespace} task queue ${taskQueue} (executed by npm run worker)`,
    );
    expect(server!.output()).toContain('(postgres database,');
  });

  it('runs a capsule to completion through the worker process', async () => {
    const exchanged = await gql(url, 'mutation($s: String!) { exchangeApiKey(secret: $s) { accessToken } }', {
      s: platformAdminKey,
    });
    const created = await gql(
      url,
      'mutation($i: CreateTenantInput!) { createTenant(input: $i) { tenant { id } } }',
      {
        i: {
          slug: 'temporal-acme',
          name: 'Acme',
          adminEmail: 'admin@temporal-acme.test',
          adminPassword: ADMIN_PASSWORD,
          adminDisplayName: 'Admin',
        },
      },
      exchanged.data.exchangeApiKey.accessToken,
    );
    expect(created.errors).toBeUndefined();
    const signedIn = await gql(url, 'mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }', {
      i: { tenantSlug: 'temporal-acme', email: 'admin@temporal-acme.test', password: ADMIN_PASSWORD },
    });
    const token = signedIn.data.signIn.accessToken as string;
    expect(
      (await gql(url, 'mutation($s: String!) { createCapsule(source: $s) { id } }', { s: SHOUT }, token))
        .errors,
    ).toBeUndefined();
    const started = await gql(
      url,
      'mutation { startCapsuleRun(input: { name: "shout", inputs: { word: "hey" } }) { id engine } }',
      {},
      token,
    );
    expect(started.errors).toBeUndefined();
    expect(started.data.startCapsuleRun.engine).toBe('temporal');
    let run: { status: string; output: unknown } | undefined;
    for (let i = 0; i < 300; i++) {
      const got = await gql(
        url,
        'query($id: ID!) { capsuleRun(id: $id) { status output } }',
        { id: started.data.startCapsuleRun.id },
        token,
      );
      run = got.data?.capsuleRun;
      if (run && run.status !== 'RUNNING') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(run).toEqual({ status: 'COMPLETED', output: { text: 'hey!' } });
  }, 120_000);
});
