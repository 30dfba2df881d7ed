import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { platformModules, subgraphUrlVariable } from '@somaagent/platform';
import { publishPoliciesToOpa } from '@somaagent/policy';
import { type Client, createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { ADMIN_PASSWORD, gql } from '../support/platform';
import { createTestDatabase, type TestPostgresSqlDatabase } from '../support/postgres';
import { freePort, type StartedProcess, startProcess } from '../support/startProcess';

/**
 * Distributed mode (docs/infrastructure.md, "Distributed mode"): the router (`npm run router`),
 * every module of the list as its own process (`npm run subgraph -- <name>`) and the Temporal
 * worker (`npm run worker`), on the harness's PostgreSQL, Redis, Kafka, Temporal, OPA server,
 * MinIO and llama-server. Every request goes through the router's socket: the README quickstart,
 * a streamed chat whose answer recalls a memory (tokens over graphql-ws, sessions → memory
 * through the in-process provider of its process), and a capsule run with a memory-recall, a
 * model and an artifact step, executed by the worker, its artifact stored in MinIO.
 */
const root = resolve(import.meta.dirname, '../..');
const postgres = inject('postgres');
const llm = inject('llm');
const opa = inject('opa');
const temporal = inject('temporal');
const redis = inject('redis');
const kafka = inject('kafka');
const s3 = inject('s3');
// The bucket the minio engine creates and exports (scripts/infra/engines/minio.ts).
const bucket = process.env.SOMA_S3_BUCKET;
if (!bucket) throw new Error('the test harness did not provide SOMA_S3_BUCKET');

const secret = () => randomBytes(32).toString('base64url');
const routerSecret = secret();
const platformAdminKey = `sk_platform_${secret()}`;
const issuer = 'http://somaagent.distributed.test';
const taskQueue = `soma-distributed-${randomUUID()}`;

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
let url: string;
const started: StartedProcess[] = [];
const clients: Client[] = [];
const t0 = performance.now();

/** Starts every process at once; any that did start is kept for cleanup even when another fails. */
async function startAll(
  specs: { args: string[]; env: NodeJS.ProcessEnv; readyLine: RegExp; timeoutMs: number }[],
) {
  const results = await Promise.allSettled(
    specs.map((spec) =>
      startProcess('npm', ['run', '--silent', ...spec.args], {
        cwd: root,
        env: spec.env,
        readyLine: spec.readyLine,
        timeoutMs: spec.timeoutMs,
      }),
    ),
  );
  for (const result of results) if (result.status === 'fulfilled') started.push(result.value);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

beforeAll(async () => {
  db = await createTestDatabase();
  tmp = mkdtempSync(join(tmpdir(), 'soma-distributed-'));
  await publishPoliciesToOpa(opa.url);
  const engines = {
    SOMA_DATABASE_URL: urlOf(postgres.appUrl, db.databaseName),
    SOMA_REDIS_URL: redis.url,
    SOMA_KAFKA_BROKERS: kafka.brokers.join(','),
    SOMA_OPA_URL: opa.url,
    SOMA_S3_ENDPOINT: s3.endpoint,
    SOMA_S3_BUCKET: bucket,
    SOMA_S3_ACCESS_KEY_ID: s3.accessKeyId,
    SOMA_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
    SOMA_S3_REGION: s3.region,
    SOMA_TEMPORAL_ADDRESS: temporal.address,
    SOMA_TEMPORAL_NAMESPACE: temporal.namespace,
    SOMA_TEMPORAL_TASK_QUEUE: taskQueue,
    SOMA_LLM_BASE_URL: llm.baseUrl,
    SOMA_LLM_API_KEY: llm.apiKey,
    SOMA_LLM_MODEL: llm.model,
  };
  const ports = await Promise.all(platformModules.map(() => freePort()));
  const subgraphUrls = Object.fromEntries(
    platformModules.map((m, i) => [subgraphUrlVariable(m.name), `http://127.0.0.1:${ports[i]}/graphql`]),
  );
  await startAll([
    ...platformModules.map((m, i) => ({
      args: ['subgraph', '--', m.name],
      env: onlyEnv({
        ...engines,
        SOMA_DATABASE_OWNER_URL: urlOf(postgres.ownerUrl, db.databaseName),
        SOMA_ROUTER_SECRET: routerSecret,
        SOMA_SUBGRAPH_PORT: String(ports[i]),
        SOMA_DATA_DIR: join(tmp, m.name),
        SOMA_ISSUER: issuer,
        SOMA_SIGNING_KEY_SECRET: secret(),
        SOMA_PLATFORM_ADMIN_KEY: platformAdminKey,
        SOMA_MODEL_PRICES: JSON.stringify({
          [llm.model]: { promptUsdPerMillion: 1, completionUsdPerMillion: 1 },
        }),
      }),
      readyLine: new RegExp(`subgraph ${m.name} ready: `),
      timeoutMs: 240_000,
    })),
    // Bundles the workflows at start-up (tens of seconds); meanwhile the subgraphs migrate.
    {
      args: ['worker'],
      env: onlyEnv({ ...engines, SOMA_WORKER_ENGINE: 'temporal', SOMA_ARTIFACTS_DIR: join(tmp, 'worker') }),
      readyLine: /worker ready: temporal task queue/,
      timeoutMs: 300_000,
    },
  ]);
  const port = await freePort();
  await startAll([
    {
      args: ['router'],
      env: onlyEnv({
        SOMA_PORT: String(port),
        SOMA_ROUTER_SECRET: routerSecret,
        SOMA_ISSUER: issuer,
        // Read only: the router follows the revocations identity stores.
        SOMA_DATABASE_URL: engines.SOMA_DATABASE_URL,
        SOMA_REDIS_URL: redis.url,
        SOMA_KAFKA_BROKERS: kafka.brokers.join(','),
        SOMA_OPA_URL: opa.url,
        ...subgraphUrls,
      }),
      readyLine: /router ready: .*revocations followed in PostgreSQL/,
      timeoutMs: 120_000,
    },
  ]);
  url = `http://127.0.0.1:${port}/graphql`;
  console.log(
    `distributed: ${started.length} processes ready after ${Math.round(performance.now() - t0)} ms`,
  );
}, 600_000);

afterAll(async () => {
  for (const client of clients) await client.dispose();
  // The router first (no new requests), then the worker and the subgraphs.
  for (const spawned of started.reverse()) await spawned[Symbol.asyncDispose]();
  const alive = started.filter(({ child }) => liveMembersOf(child.pid!).length > 0);
  await db?.[Symbol.asyncDispose]();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  console.log(`distributed: whole file ${Math.round(performance.now() - t0)} ms`);
  expect(
    alive.map(({ child }) => `${child.spawnargs.join(' ')}: ${liveMembersOf(child.pid!).join(', ')}`),
  ).toEqual([]);
}, 120_000);

/**
 * The processes of group `pgid` (each spawned process leads its own) that are still running.
 * Zombies do not count: killed, their parent gone, PID 1 of a container may never reap them.
 */
function liveMembersOf(pgid: number): string[] {
  const members: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z')
        members.push(`${pid} ${stat.slice(0, stat.lastIndexOf(')') + 1)}`);
    } catch {
      // gone while listing
    }
  }
  return members;
}

function wsClient(token: string): Client {
  const client = createClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  clients.push(client);
  return client;
}

/** Events of one subscription until `done` says so (or the server completes it). */
function collect<T>(
  client: Client,
  query: string,
  variables: Record<string, unknown>,
  done: (event: T) => boolean,
) {
  return new Promise<T[]>((resolvePromise, reject) => {
    const events: T[] = [];
    let finished = false;
    const unsubscribe = client.subscribe(
      { query, variables },
      {
        next: (value) => {
          // Messages already received may still be delivered after unsubscribing: not ours any more.
          if (finished) return;
          if (value.errors) return reject(new Error(JSON.stringify(value.errors)));
          const event = Object.values(value.data ?? {})[0] as T;
          events.push(event);
          if (done(event)) {
            finished = true;
            unsubscribe();
            resolvePromise(events);
          }
        },
        error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(error))),
        complete: () => resolvePromise(events),
      },
    );
  });
}

const must = async (query: string, variables: Record<string, unknown>, token?: string) => {
  const result = await gql(url, query, variables, token);
  if (result.errors) throw new Error(`${query}: ${JSON.stringify(result.errors)}`);
  return result.data;
};

describe('distributed mode: router, every subgraph and the Temporal worker as processes of their own', () => {
  let adminToken: string;
  let memoryId: string;

  it('runs the README quickstart through the router: platform key → tenant → user → sign in → API key, revoked', async () => {
    const platform = await must('mutation($s: String!) { exchangeApiKey(secret: $s) { accessToken } }', {
      s: platformAdminKey,
    });
    const created = await must(
      'mutation($i: CreateTenantInput!) { createTenant(input: $i) { tenant { id slug } admin { email } } }',
      {
        i: {
          slug: 'dist-acme',
          name: 'Acme',
          adminEmail: 'admin@dist-acme.test',
          adminPassword: ADMIN_PASSWORD,
          adminDisplayName: 'Admin',
        },
      },
      platform.exchangeApiKey.accessToken,
    );
    expect(created.createTenant.tenant.slug).toBe('dist-acme');
    adminToken = (
      await must('mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }', {
        i: { tenantSlug: 'dist-acme', email: 'admin@dist-acme.test', password: ADMIN_PASSWORD },
      })
    ).signIn.accessToken;
    const user = await must(
      'mutation($i: CreateUserInput!) { createUser(input: $i) { id email roles { name } } }',
      { i: { email: 'bob@dist-acme.test', displayName: 'Bob', password: 'bob has twelve chars' } },
      adminToken,
    );
    expect(user.createUser.roles).toEqual([{ name: 'member' }]);
    const bob = await must('mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }', {
      i: { tenantSlug: 'dist-acme', email: 'bob@dist-acme.test', password: 'bob has twelve chars' },
    });
    const viewer = await must('{ viewer { subject roles tenant { id } } }', {}, bob.signIn.accessToken);
    expect(viewer.viewer).toEqual({
      subject: user.createUser.id,
      roles: ['member'],
      tenant: { id: created.createTenant.tenant.id },
    });
    const key = await must(
      'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { id } secret } }',
      { i: { name: 'reader', capabilities: ['identity:users:read'] } },
      adminToken,
    );
    const keyToken = (
      await must('mutation($s: String!) { exchangeApiKey(secret: $s) { accessToken } }', {
        s: key.createApiKey.secret,
      })
    ).exchangeApiKey.accessToken;
    expect((await must('{ viewer { capabilities } }', {}, keyToken)).viewer.capabilities).toEqual([
      'identity:users:read',
    ]);
    // Revoked in the identity process, refused by the router process (it follows the stored revocations).
    await must(
      'mutation($id: ID!) { revokeApiKey(id: $id) { id } }',
      { id: key.createApiKey.apiKey.id },
      adminToken,
    );
    let code: string | undefined;
    for (let i = 0; i < 50 && code !== 'UNAUTHENTICATED'; i++) {
      code = (await gql(url, '{ viewer { subject } }', {}, keyToken)).code;
      if (code !== 'UNAUTHENTICATED') await new Promise((r) => setTimeout(r, 100));
    }
    expect(code).toBe('UNAUTHENTICATED');
  });

  it('streams identity events over graphql-ws from the identity process, through Kafka', async () => {
    type IdentityEvent = { type: string; subjectId: string };
    const created = new Set<string>();
    const failures: string[] = [];
    const events = collect<IdentityEvent>(
      wsClient(adminToken),
      'subscription { identityEvents { type subjectId } }',
      {},
      (event) => event.type === 'USER_CREATED' && created.has(event.subjectId),
    );
    // The Kafka consumer joins its group a few seconds after the subscription opens (nothing says
    // when): create a user a second until one of them is seen.
    const timer = setInterval(() => {
      void must(
        'mutation($i: CreateUserInput!) { createUser(input: $i) { id } }',
        { i: { email: `u-${randomUUID()}@dist-acme.test`, displayName: 'U', password: 'twelve chars!!' } },
        adminToken,
      )
        .then((r) => created.add(r.createUser.id))
        .catch((error: Error) => failures.push(error.message));
    }, 1_000);
    try {
      const received = await Promise.race([
        events,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('no identity event in 45 s')), 45_000),
        ),
      ]);
      expect(received.at(-1)!.type).toBe('USER_CREATED');
      expect(failures).toEqual([]);
    } finally {
      clearInterval(timer);
    }
  }, 60_000);

  it('streams a chat answer over graphql-ws that recalls a memory stored through the memory process', async () => {
    for (const text of [
      'Coffee in the office kitchen is free on Fridays.',
      'Our launch code name is PELICAN and the launch date is March 3.',
    ]) {
      const remembered = await must(
        'mutation($i: RememberInput!) { remember(input: $i) { id } }',
        { i: { text, scope: { kind: 'TENANT' } } },
        adminToken,
      );
      if (text.includes('PELICAN')) memoryId = remembered.remember.id;
    }
    const persona = await must(
      'mutation($i: CreatePersonaInput!) { createPersona(input: $i) { id provider } }',
      {
        i: {
          name: 'rememberer',
          model: llm.model,
          systemPrompt: 'Answer from memory.',
          maxTokens: 8,
          recallK: 1,
        },
      },
      adminToken,
    );
    expect(persona.createPersona.provider).toBe('OPENAI_COMPATIBLE');
    const session = await must(
      'mutation($i: StartSessionInput!) { startSession(input: $i) { id } }',
      { i: { personaId: persona.createPersona.id } },
      adminToken,
    );
    const sessionId = session.startSession.id as string;
    const sent = await must(
      'mutation($i: SendMessageInput!) { sendMessage(input: $i) { assistantMessage { id } afterSequence } }',
      { i: { sessionId, content: 'What is the launch code name?' } },
      adminToken,
    );
    type SessionEvent = { sequence: number; kind: string; delta?: string };
    const events = await collect<SessionEvent>(
      wsClient(adminToken),
      `subscription($s: ID!, $a: Int) { sessionEvents(sessionId: $s, afterSequence: $a) {
         sequence kind: __typename ... on TokenDelta { delta } } }`,
      { s: sessionId, a: sent.sendMessage.afterSequence },
      (event) => event.kind.startsWith('Generation'),
    );
    expect(events.at(-1)!.kind).toBe('GenerationCompleted');
    const tokens = events.filter((e) => e.kind === 'TokenDelta');
    expect(tokens.length).toBeGreaterThan(0);
    const read = await must(
      `query($id: ID!) { session(id: $id) { messages { edges { node { role status content
         citations { marker memoryItem { id text } } } } } } }`,
      { id: sessionId },
      adminToken,
    );
    const answer = read.session.messages.edges[1].node;
    expect(answer.status).toBe('COMPLETE');
    // The tokens that crossed the socket are the stored answer, in order.
    expect(tokens.map((e) => e.delta).join('')).toBe(answer.content);
    // Recalled in the sessions process, resolved from the memory process by the router.
    expect(answer.citations).toEqual([
      { marker: 1, memoryItem: { id: memoryId, text: expect.stringContaining('PELICAN') } },
    ]);
  });

  it('runs a capsule on Temporal in the worker process: memory recall, model call, artifact in MinIO', async () => {
    const source = `name: launch-brief
version: 1.0.0
capabilities: [memory:read]
inputs: { type: object, required: [topic], properties: { topic: { type: string } } }
steps:
  - { id: recall, kind: memoryRecall, query: "{{inputs.topic}}", k: 1 }
  - { id: draft, kind: modelCall, prompt: "Announce: {{steps.recall.output.items.0.text}}", maxTokens: 8 }
  - { id: report, kind: artifact, name: brief.md, contentType: text/markdown, content: "# {{steps.recall.output.items.0.text}}" }
outputs: { top: "{{steps.recall.output.items.0.text}}", text: "{{steps.draft.output.text}}" }
`;
    await must('mutation($s: String!) { createCapsule(source: $s) { id } }', { s: source }, adminToken);
    const run = await must(
      'mutation($i: StartCapsuleRunInput!) { startCapsuleRun(input: $i) { id engine } }',
      { i: { name: 'launch-brief', inputs: { topic: 'launch code name' } } },
      adminToken,
    );
    expect(run.startCapsuleRun.engine).toBe('temporal');
    const runId = run.startCapsuleRun.id as string;
    type RunEvent = { sequence: number; type: string; stepKey: string | null };
    // Appended to Redis by the worker, read by the capsules process, relayed by the router.
    const live = await collect<RunEvent>(
      wsClient(adminToken),
      'subscription($r: ID!) { capsuleRun(runId: $r, afterSequence: 0) { sequence type stepKey } }',
      { r: runId },
      (event) => event.type.startsWith('RUN_'),
    );
    expect(live.at(-1)!.type).toBe('RUN_COMPLETED');
    expect(live.filter((e) => e.type === 'STEP_COMPLETED').map((e) => e.stepKey)).toEqual([
      'recall',
      'draft',
      'report',
    ]);
    const done = await must(
      'query($id: ID!) { capsuleRun(id: $id) { status output steps { key status } artifacts { name downloadUrl } } }',
      { id: runId },
      adminToken,
    );
    const { status, output, artifacts } = done.capsuleRun;
    expect(status).toBe('COMPLETED');
    expect(output.top).toContain('PELICAN');
    expect(typeof output.text).toBe('string');
    expect(artifacts).toHaveLength(1);
    expect(artifacts[0].downloadUrl.startsWith(`${s3.endpoint}/${bucket}/`)).toBe(true);
    const downloaded = await fetch(artifacts[0].downloadUrl);
    expect(downloaded.status).toBe(200);
    expect(await downloaded.text()).toBe(`# ${output.top}`);
  }, 180_000);
});

/** Runs `npm run <args>` to its end: exit code and stderr. */
function runToExit(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolvePromise) => {
    execFile(
      'npm',
      ['run', '--silent', ...args],
      { cwd: root, env, timeout: 60_000 },
      (error, _stdout, stderr) =>
        resolvePromise({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stderr }),
    );
  });
}

describe('a bad or missing variable stops a subgraph or router process, naming it', () => {
  it('exits 2: an unknown module, identity without its issuer and sealing secret, a router missing a subgraph URL', async () => {
    const base = { SOMA_DATABASE_URL: postgres.appUrl, SOMA_ROUTER_SECRET: routerSecret };
    const [unknown, identity, router] = await Promise.all([
      runToExit(['subgraph', '--', 'warehouse'], onlyEnv(base)),
      runToExit(['subgraph', '--', 'identity'], onlyEnv(base)),
      runToExit(
        ['router'],
        onlyEnv({
          SOMA_ROUTER_SECRET: routerSecret,
          SOMA_ISSUER: issuer,
          ...Object.fromEntries(
            platformModules
              .filter((m) => m.name !== 'capsules')
              .map((m) => [subgraphUrlVariable(m.name), 'http://127.0.0.1:1/graphql']),
          ),
        }),
      ),
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(
      `usage: npm run subgraph -- <name>, one of: ${platformModules.map((m) => m.name).join(', ')} (not "warehouse")`,
    );
    expect(identity.code).toBe(2);
    expect(identity.stderr).toContain('subgraph identity: invalid configuration');
    expect(identity.stderr).toContain('SOMA_ISSUER: required for the identity subgraph');
    expect(identity.stderr).toContain('SOMA_SIGNING_KEY_SECRET: required for the identity subgraph');
    expect(router.code).toBe(2);
    expect(router.stderr).toContain(
      'router: invalid configuration\n  SOMA_SUBGRAPH_CAPSULES_URL: must be the URL',
    );
  }, 90_000);
});
