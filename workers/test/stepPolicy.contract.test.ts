import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { CapsuleDefinition } from '@somaagent/capsule-contract';
import { capsulesMigrations, SqlCapsuleRunStore } from '@somaagent/capsules';
import { InProcessEventBus } from '@somaagent/events';
import { OpenAICompatibleChatModel } from '@somaagent/models';
import {
  AUDIT_TOPIC,
  createPolicyDecider,
  createWasmPolicyEvaluator,
  OpaServerPolicyEvaluator,
  type PolicyDecisionAudit,
  type PolicyEvaluator,
  publishPoliciesToOpa,
} from '@somaagent/policy';
import type { ChatModel, ChatRequest, EventEnvelope } from '@somaagent/ports';
import { PgliteSqlDatabase } from '@somaagent/postgres';
import { JournalWorkflowEngine, workflowsMigrations } from '@somaagent/workflows';
import { TemporalWorkflowEngine } from '@somaagent/workflows/temporal';
import { createTemporalWorker } from '@somaagent/workflows/temporal-worker';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '../../tests/support/postgres';
import { createActivities } from '../src/activities';
import { capsuleRunWorkflow } from '../src/capsuleRunWorkflow';
import { runRow, seedRun, step } from './support';

/**
 * Policy gating of capsule steps (docs/capsules.md, "Policy gating"): the real Rego of policies/,
 * decided by the in-process wasm evaluator and by the harness's real OPA server, through the
 * same decider (fail-closed, audited) the platform uses. Runs execute on the embedded journal
 * engine (PGlite); model calls go to the harness's llama.cpp server.
 */
const opa = inject('opa');
const llm = inject('llm');

const evaluators: [string, () => Promise<PolicyEvaluator>][] = [
  ['wasm (in-process)', () => createWasmPolicyEvaluator()],
  [
    'OPA server',
    async () => {
      await publishPoliciesToOpa(opa.url);
      return new OpaServerPolicyEvaluator({ url: opa.url });
    },
  ],
];

const capsule = (
  name: string,
  steps: CapsuleDefinition['steps'],
  extra: Partial<CapsuleDefinition> = {},
): CapsuleDefinition => ({ name, version: '1.0.0', steps, ...extra });

/** A tenant member as the policy sees them (capsules.runs.started_as). */
const member = (tenantId: string) => ({
  subject: randomUUID(),
  tenantId,
  roles: ['member'],
  capabilities: ['capsules:run', 'capsules:read'],
  platformAdmin: false,
  authMethod: 'password',
  issuer: 'http://somaagent.test',
});

interface Gated {
  db: PgliteSqlDatabase;
  engine: JournalWorkflowEngine;
  audit: EventEnvelope<PolicyDecisionAudit>[];
  modelCalls: ChatRequest[];
  close(): Promise<void>;
}

async function gatedEngine(evaluator: PolicyEvaluator | null): Promise<Gated> {
  const db = await PgliteSqlDatabase.open(undefined, { vector: false });
  await db.migrate([...workflowsMigrations, ...capsulesMigrations]);
  const events = new InProcessEventBus();
  const audit: EventEnvelope<PolicyDecisionAudit>[] = [];
  const subscription = events.subscribe(AUDIT_TOPIC);
  await subscription.ready;
  void (async () => {
    for await (const e of subscription) audit.push(e as EventEnvelope<PolicyDecisionAudit>);
  })();
  const real = OpenAICompatibleChatModel.fromUrl(llm.baseUrl, llm.apiKey);
  const modelCalls: ChatRequest[] = [];
  // The real model; each request it is asked is noted, which shows a denied step never asked it.
  const model: ChatModel = {
    kind: real.kind,
    stream: (request) => {
      modelCalls.push(request);
      return real.stream(request);
    },
    [Symbol.asyncDispose]: () => real[Symbol.asyncDispose](),
  };
  const engine = new JournalWorkflowEngine(db, {
    workflows: { capsuleRun: capsuleRunWorkflow },
    activities: createActivities({
      store: new SqlCapsuleRunStore(db),
      chat: { model, defaultModel: llm.model },
      ...(evaluator ? { policy: createPolicyDecider({ evaluator, audit: events }) } : {}),
    }),
  }).startWorker();
  return {
    db,
    engine,
    audit,
    modelCalls,
    close: async () => {
      await engine[Symbol.asyncDispose]();
      await model[Symbol.asyncDispose]();
      await events[Symbol.asyncDispose]();
      await db[Symbol.asyncDispose]();
    },
  };
}

async function events(g: Gated, tenant: string, runId: string) {
  return g.db.withScope({ tenantId: tenant }, async (tx) => {
    const { rows } = await tx.query<{
      type: string;
      step_key: string | null;
      payload: Record<string, unknown>;
    }>('SELECT type, step_key, payload FROM capsules.run_events WHERE run_id = $1 ORDER BY sequence', [
      runId,
    ]);
    return rows;
  });
}

async function stepDetail(g: Gated, tenant: string, runId: string, key: string) {
  return g.db.withScope({ tenantId: tenant }, async (tx) => {
    const { rows } = await tx.query<{ detail: unknown; error: string | null }>(
      'SELECT detail, error FROM capsules.run_steps WHERE run_id = $1 AND step_key = $2',
      [runId, key],
    );
    return rows[0];
  });
}

describe.each(evaluators)('capsule steps gated by policy (%s)', (_name, createEvaluator) => {
  let g: Gated;
  const tenant = randomUUID();
  beforeAll(async () => {
    g = await gatedEngine(await createEvaluator());
  }, 60_000);
  afterAll(async () => {
    await g?.close();
  });

  const start = async (definition: CapsuleDefinition, startedAs: Record<string, unknown> | null) => {
    const input = await seedRun(g.db, tenant, definition, {}, {}, 'journal', startedAs);
    await g.engine.start('capsuleRun', input.runId, input);
    return input.runId;
  };

  it('a tool forbidden by the constitution (shell.exec) fails its step with the reason, once; the tool never ran', async () => {
    const starter = member(tenant);
    const runId = await start(
      capsule('forbidden-tool', [
        step('before', 'soma.echo', { text: 'ok' }),
        step('t1', 'shell.exec', { cmd: 'rm -rf /' }),
        step('after', 'soma.echo', { text: 'never' }),
      ]),
      starter,
    );
    const expected = `step "t1" denied by policy constitution.tool: tool "shell.exec" is forbidden by the tenant's constitution`;
    await expect(g.engine.result(runId)).rejects.toMatchObject({
      message: expect.stringContaining(expected),
    });
    const row = await runRow(g.db, tenant, runId);
    expect(row.status).toBe('FAILED');
    expect(row.error).toBe(expected);
    expect(row.steps).toEqual([
      { step_key: 'before', status: 'COMPLETED', attempts: 1 },
      { step_key: 't1', status: 'FAILED', attempts: 1 },
    ]);
    // Not retried (the step allows 3 attempts) and no side effect of the denied tool.
    expect(row.attempts.filter((a) => a.step_key === 't1')).toHaveLength(1);
    expect(row.invocations).toEqual([{ step_key: 'before' }]);
    const failed = (await events(g, tenant, runId)).find((e) => e.type === 'STEP_FAILED');
    expect(failed).toMatchObject({
      step_key: 't1',
      payload: {
        error: expected,
        reason: 'POLICY_DENIED',
        policy: 'constitution.tool',
        reasons: [`tool "shell.exec" is forbidden by the tenant's constitution`],
      },
    });
    expect(await stepDetail(g, tenant, runId, 't1')).toEqual({
      error: expected,
      detail: {
        reason: 'POLICY_DENIED',
        policy: 'constitution.tool',
        reasons: [`tool "shell.exec" is forbidden by the tenant's constitution`],
      },
    });
    // Every decision is audited, as the run's starter.
    const decisions = g.audit.filter((e) => e.payload.subject === starter.subject);
    expect(decisions.map((e) => `${e.payload.policy}:${e.payload.result}`)).toEqual([
      'constitution.tool:allow',
      'constitution.tool:deny',
    ]);
    expect(decisions.every((e) => e.tenantId === tenant)).toBe(true);
  });

  it('a model call over the token limit (10000 > 4096) is denied before the model is called', async () => {
    const callsBefore = g.modelCalls.length;
    const runId = await start(
      capsule('too-many-tokens', [{ id: 'draft', kind: 'modelCall', prompt: 'Hello', maxTokens: 10_000 }]),
      member(tenant),
    );
    const expected = `step "draft" denied by policy constitution.model: 10000 tokens per request exceed the tenant's limit of 4096`;
    await expect(g.engine.result(runId)).rejects.toMatchObject({
      message: expect.stringContaining(expected),
    });
    const row = await runRow(g.db, tenant, runId);
    expect(row).toMatchObject({ status: 'FAILED', error: expected });
    expect(row.steps).toEqual([{ step_key: 'draft', status: 'FAILED', attempts: 1 }]);
    expect(g.modelCalls.length).toBe(callsBefore);
    expect((await events(g, tenant, runId)).map((e) => e.type)).toEqual([
      'STEP_STARTED',
      'STEP_FAILED',
      'RUN_FAILED',
    ]);
  });

  it('a capsule naming policies [platform.admin], started by a non-admin, fails its first step', async () => {
    const runId = await start(
      capsule('admins-only', [step('first', 'soma.echo', { text: 'hi' }), step('second', 'soma.echo')], {
        policies: ['platform.admin'],
      }),
      member(tenant),
    );
    const expected = 'step "first" denied by policy platform.admin: platform administrators only';
    await expect(g.engine.result(runId)).rejects.toMatchObject({
      message: expect.stringContaining(expected),
    });
    const row = await runRow(g.db, tenant, runId);
    expect(row).toMatchObject({ status: 'FAILED', error: expected });
    expect(row.steps).toEqual([{ step_key: 'first', status: 'FAILED', attempts: 1 }]);
    expect(row.invocations).toEqual([]);
  });

  it("a sub-capsule's policies gate its own steps (and the parent's gate them too)", async () => {
    const child = capsule('inner', [step('deep', 'soma.echo', { text: 'x' })], {
      policies: ['platform.admin'],
    });
    const input = await seedRun(
      g.db,
      tenant,
      capsule('outer', [{ id: 'sub', kind: 'capsule', capsule: 'inner', version: '1.0.0' }], {
        policies: ['tenant.member'],
      }),
      {},
      { 'inner@1.0.0': child },
      'journal',
      member(tenant),
    );
    await g.engine.start('capsuleRun', input.runId, input);
    await expect(g.engine.result(input.runId)).rejects.toMatchObject({
      message: expect.stringContaining(
        'step "sub/deep" denied by policy platform.admin: platform administrators only',
      ),
    });
  });

  it('a run with no recorded starter is denied (the policies need a subject)', async () => {
    const runId = await start(capsule('nobody', [step('only', 'soma.echo')]), null);
    await expect(g.engine.result(runId)).rejects.toMatchObject({
      message: expect.stringContaining(
        'step "only" denied by policy constitution.tool: sign in first: this needs an access token',
      ),
    });
  });

  it('an allowed run completes: tool and model steps within the constitution, a policy the starter meets', async () => {
    const starter = member(tenant);
    const callsBefore = g.modelCalls.length;
    const runId = await start(
      capsule(
        'allowed',
        [
          step('greet', 'soma.echo', { text: 'hello' }),
          { id: 'draft', kind: 'modelCall', prompt: 'Say hello', maxTokens: 8 },
        ],
        { policies: ['tenant.member'], outputs: { text: '{{steps.greet.output.text}}' } },
      ),
      starter,
    );
    expect(await g.engine.result(runId)).toEqual({ text: 'hello' });
    const row = await runRow(g.db, tenant, runId);
    expect(row.status).toBe('COMPLETED');
    expect(row.invocations).toEqual([{ step_key: 'greet' }]);
    expect(g.modelCalls.length).toBe(callsBefore + 1);
    const decisions = g.audit.filter((e) => e.payload.subject === starter.subject);
    expect(decisions.map((e) => `${e.payload.policy}:${e.payload.result}`).sort()).toEqual([
      'constitution.model:allow',
      'constitution.tool:allow',
      'tenant.member:allow',
      'tenant.member:allow',
    ]);
  });
});

describe('capsule steps when the policy engine cannot decide', () => {
  let g: Gated;
  const tenant = randomUUID();
  beforeAll(async () => {
    // A port nothing listens on: the OPA server is "down".
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    await new Promise((resolve) => server.close(resolve));
    g = await gatedEngine(new OpaServerPolicyEvaluator({ url: `http://127.0.0.1:${port}`, timeoutMs: 500 }));
  }, 60_000);
  afterAll(async () => {
    await g?.close();
  });

  it('denies (fail-closed) and retries the step, which then fails saying the engine was unavailable', async () => {
    const input = await seedRun(
      g.db,
      tenant,
      capsule('engine-down', [
        step('t', 'soma.echo', { text: 'x' }, { retry: { maximumAttempts: 2, initialIntervalMs: 50 } }),
      ]),
      {},
      {},
      'journal',
      member(tenant),
    );
    await g.engine.start('capsuleRun', input.runId, input);
    await expect(g.engine.result(input.runId)).rejects.toMatchObject({
      message: expect.stringContaining('step "t" could not be checked against policy constitution.tool'),
    });
    const row = await runRow(g.db, tenant, input.runId);
    expect(row.error).toMatch(/policy engine unavailable .*: denied$/);
    expect(row.steps).toEqual([{ step_key: 't', status: 'FAILED', attempts: 2 }]);
    expect(row.invocations).toEqual([]);
    expect((await stepDetail(g, tenant, input.runId, 't'))?.detail).toEqual({
      reason: 'POLICY_UNAVAILABLE',
      policy: 'constitution.tool',
    });
    expect(g.audit.map((e) => e.payload.outcome)).toEqual(['unavailable-denied', 'unavailable-denied']);
  });
});

describe('capsule steps when no policy engine is configured', () => {
  let g: Gated;
  const tenant = randomUUID();
  beforeAll(async () => {
    g = await gatedEngine(null);
  }, 60_000);
  afterAll(async () => {
    await g?.close();
  });

  it('runs a capsule that names no policies, and denies the steps of one that does', async () => {
    const free = await seedRun(
      g.db,
      tenant,
      capsule('free', [step('a', 'soma.echo', { v: 1 })]),
      {},
      {},
      'journal',
    );
    await g.engine.start('capsuleRun', free.runId, free);
    await g.engine.result(free.runId);
    const named = await seedRun(
      g.db,
      tenant,
      capsule('named', [step('a', 'soma.echo')], { policies: ['tenant.member'] }),
      {},
      {},
      'journal',
      member(tenant),
    );
    await g.engine.start('capsuleRun', named.runId, named);
    await expect(g.engine.result(named.runId)).rejects.toMatchObject({
      message: expect.stringContaining(
        'step "a" denied by policy tenant.member: no policy engine is configured for capsule runs',
      ),
    });
  });
});

describe('a denied step on Temporal (dev server, in-process worker): not retried either', () => {
  it('fails the forbidden tool step once, with the reason; the tool never ran', async () => {
    const temporal = inject('temporal');
    const db = await createTestDatabase();
    await db.migrate(capsulesMigrations);
    Runtime.install({ logger: new DefaultLogger('WARN') });
    const taskQueue = `soma-capsules-policy-${randomUUID()}`;
    const native = await NativeConnection.connect({ address: temporal.address });
    const worker = await createTemporalWorker({
      connection: native,
      namespace: temporal.namespace,
      taskQueue,
      activities: createActivities({
        store: new SqlCapsuleRunStore(db),
        policy: createPolicyDecider({ evaluator: await createWasmPolicyEvaluator() }),
      }),
      workflowBundle: await bundleWorkflowCode({
        workflowsPath: fileURLToPath(new URL('../src/workflows.ts', import.meta.url)),
        logger: new DefaultLogger('WARN'),
      }),
    });
    const running = worker.run();
    const connection = await Connection.connect({ address: temporal.address });
    try {
      const engine = new TemporalWorkflowEngine(new Client({ connection, namespace: temporal.namespace }), {
        taskQueue,
        workflowExecutionTimeoutMs: 60_000,
      });
      const tenant = randomUUID();
      const input = await seedRun(
        db,
        tenant,
        capsule('forbidden-on-temporal', [step('t1', 'shell.exec', { cmd: 'id' })]),
        {},
        {},
        'temporal',
        member(tenant),
      );
      await engine.start('capsuleRun', input.runId, input);
      const expected = `step "t1" denied by policy constitution.tool: tool "shell.exec" is forbidden by the tenant's constitution`;
      await expect(engine.result(input.runId)).rejects.toMatchObject({
        message: expect.stringContaining(expected),
      });
      const row = await runRow(db, tenant, input.runId);
      expect(row).toMatchObject({ status: 'FAILED', error: expected, invocations: [] });
      expect(row.steps).toEqual([{ step_key: 't1', status: 'FAILED', attempts: 1 }]);
      expect(row.attempts).toHaveLength(1);
    } finally {
      worker.shutdown();
      await running;
      await native.close();
      await connection.close();
      await db[Symbol.asyncDispose]();
    }
  }, 120_000);
});
