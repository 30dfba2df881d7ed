import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CapsuleDefinition } from '@somaagent/capsule-contract';
import { capsulesMigrations, SqlCapsuleRunStore } from '@somaagent/capsules';
import type { SqlDatabase, WorkflowEngine } from '@somaagent/ports';
import { PgliteSqlDatabase } from '@somaagent/postgres';
import { FileSystemObjectStorage, JournalWorkflowEngine, workflowsMigrations } from '@somaagent/workflows';
import { TemporalWorkflowEngine } from '@somaagent/workflows/temporal';
import { createTemporalWorker } from '@somaagent/workflows/temporal-worker';
import { Client, Connection } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  type Worker,
} from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '../../tests/support/postgres';
import { createActivities } from '../src/activities';
import { approvalSignal, capsuleRunWorkflow } from '../src/capsuleRunWorkflow';
import { runRow, seedRun, step, until } from './support';

/**
 * ONE contract suite for the WorkflowEngine port, looped over every adapter: the embedded journal
 * engine on PGlite and on the PostgreSQL server, and Temporal (the harness's real dev server, a
 * real Worker in this process). The workflow is the real capsule-run workflow with real activities.
 */
interface Harness {
  engine: WorkflowEngine;
  db: SqlDatabase;
  close(): Promise<void>;
}

const artifactsDir = await mkdtemp(join(tmpdir(), 'soma-artifacts-'));
let storage: FileSystemObjectStorage;

async function journalHarness(db: SqlDatabase & AsyncDisposable): Promise<Harness> {
  await db.migrate([...workflowsMigrations, ...capsulesMigrations]);
  const engine = new JournalWorkflowEngine(db, {
    workflows: { capsuleRun: capsuleRunWorkflow },
    activities: createActivities({ store: new SqlCapsuleRunStore(db), storage }),
  }).startWorker();
  return {
    engine,
    db,
    close: async () => {
      await engine[Symbol.asyncDispose]();
      await db[Symbol.asyncDispose]();
    },
  };
}

async function temporalHarness(): Promise<Harness> {
  const temporal = inject('temporal');
  const db = await createTestDatabase();
  await db.migrate(capsulesMigrations);
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const taskQueue = `soma-capsules-contract-${randomUUID()}`;
  const bundle = await bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('../src/workflows.ts', import.meta.url)),
    logger: new DefaultLogger('WARN'),
  });
  const native = await NativeConnection.connect({ address: temporal.address });
  const worker: Worker = await createTemporalWorker({
    connection: native,
    namespace: temporal.namespace,
    taskQueue,
    activities: createActivities({ store: new SqlCapsuleRunStore(db), storage }),
    workflowBundle: bundle,
  });
  const running = worker.run();
  const connection = await Connection.connect({ address: temporal.address });
  const engine = new TemporalWorkflowEngine(new Client({ connection, namespace: temporal.namespace }), {
    taskQueue,
    workflowExecutionTimeoutMs: 120_000,
  });
  return {
    engine,
    db,
    close: async () => {
      worker.shutdown();
      await running;
      await native.close();
      await connection.close();
      await db[Symbol.asyncDispose]();
    },
  };
}

beforeAll(async () => {
  storage = await FileSystemObjectStorage.open(artifactsDir);
});
afterAll(async () => {
  await storage[Symbol.asyncDispose]();
  await rm(artifactsDir, { recursive: true, force: true });
});

const adapters: [string, () => Promise<Harness>][] = [
  [
    'journal engine on PGlite',
    async () => journalHarness(await PgliteSqlDatabase.open(undefined, { vector: false })),
  ],
  ['journal engine on the PostgreSQL server', async () => journalHarness(await createTestDatabase())],
  ['Temporal (dev server, in-process worker)', temporalHarness],
];

const capsule = (
  name: string,
  steps: CapsuleDefinition['steps'],
  extra: Partial<CapsuleDefinition> = {},
): CapsuleDefinition => ({
  name,
  version: '1.0.0',
  steps,
  ...extra,
});

describe.each(adapters)('WorkflowEngine contract: %s', (_name, open) => {
  let h: Harness;
  const tenant = randomUUID();
  beforeAll(async () => {
    h = await open();
  }, 180_000);
  afterAll(async () => {
    await h?.close();
  });

  const run = async (definition: CapsuleDefinition, inputs: Record<string, unknown> = {}, capsules = {}) => {
    const input = await seedRun(h.db, tenant, definition, inputs, capsules, h.engine.kind);
    await h.engine.start('capsuleRun', input.runId, input);
    return input.runId;
  };

  it('runs every step kind: tool calls with templates, branch, parallel, sub-capsule, artifact, outputs', async () => {
    const child = capsule('child', [step('shout', 'soma.echo', { text: '{{inputs.word}}!' })], {
      outputs: { shouted: '{{steps.shout.output.text}}' },
    });
    const runId = await run(
      capsule(
        'all-kinds',
        [
          step('first', 'soma.echo', { topic: '{{inputs.topic}}', n: 2 }),
          {
            id: 'decide',
            kind: 'branch',
            when: { path: 'steps.first.output.n', equals: 2 },
            steps: [step('yes', 'soma.echo', { taken: true })],
            otherwise: [step('no', 'soma.echo', { taken: false })],
          },
          {
            id: 'fan',
            kind: 'parallel',
            branches: [
              [step('left', 'soma.echo', { side: 'l' })],
              [step('right', 'soma.echo', { side: 'r' })],
            ],
          },
          {
            id: 'sub',
            kind: 'capsule',
            capsule: 'child',
            version: '1.0.0',
            inputs: { word: '{{inputs.topic}}' },
          },
          {
            id: 'report',
            kind: 'artifact',
            name: 'report.md',
            contentType: 'text/markdown',
            content: '# {{steps.sub.output.shouted}}',
          },
        ],
        {
          outputs: {
            topic: '{{steps.first.output.topic}}',
            sub: '{{steps.sub.output}}',
            left: '{{steps.left.output.side}}',
          },
        },
      ),
      { topic: 'durability' },
      { 'child@1.0.0': child },
    );
    expect(await h.engine.result(runId)).toEqual({
      topic: 'durability',
      sub: { shouted: 'durability!' },
      left: 'l',
    });
    expect((await h.engine.describe(runId)).status).toBe('COMPLETED');
    const row = await runRow(h.db, tenant, runId);
    expect(row.status).toBe('COMPLETED');
    expect(row.invocations.map((i) => i.step_key)).toEqual(['first', 'left', 'right', 'sub/shout', 'yes']);
    expect(row.steps.find((s) => s.step_key === 'no')).toBeUndefined();
    // Sequence numbers 1..n without gaps, the run's outcome last.
    expect(row.events.map((e) => Number(e.sequence))).toEqual(row.events.map((_, i) => i + 1));
    expect(row.events.at(-1)?.type).toBe('RUN_COMPLETED');
    const artifact = await storage.get(`tenants/${tenant}/runs/${runId}/report/report.md`);
    expect(Buffer.from(artifact!).toString()).toBe('# durability!');
  });

  it('retries a failing step with exponential backoff until it succeeds', async () => {
    const runId = await run(
      capsule(
        'flaky',
        [
          step(
            'flaky',
            'soma.flaky',
            { failAttempts: 2 },
            { retry: { maximumAttempts: 4, initialIntervalMs: 300, backoffCoefficient: 2 } },
          ),
        ],
        {
          outputs: { attempt: '{{steps.flaky.output.succeededOnAttempt}}' },
        },
      ),
    );
    expect(await h.engine.result(runId)).toEqual({ attempt: 3 });
    const { attempts, events } = await runRow(h.db, tenant, runId);
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    const gaps = [
      attempts[1]!.at.getTime() - attempts[0]!.at.getTime(),
      attempts[2]!.at.getTime() - attempts[1]!.at.getTime(),
    ];
    expect(gaps[0]).toBeGreaterThanOrEqual(280);
    expect(gaps[1]).toBeGreaterThanOrEqual(560); // doubled
    expect(events.filter((e) => e.type === 'STEP_FAILED')).toHaveLength(2);
  });

  it('fails the run with the step error once the attempts are exhausted', async () => {
    const runId = await run(
      capsule('exhausted', [
        step(
          'always',
          'soma.flaky',
          { failAttempts: 9 },
          { retry: { maximumAttempts: 2, initialIntervalMs: 50 } },
        ),
      ]),
    );
    await expect(h.engine.result(runId)).rejects.toMatchObject({
      code: 'ERR_WORKFLOW_FAILED',
      message: expect.stringContaining('soma.flaky failing attempt 2'),
    });
    const row = await runRow(h.db, tenant, runId);
    expect(row.status).toBe('FAILED');
    expect(row.error).toContain('soma.flaky failing attempt 2');
  });

  it('times out a step that runs longer than its timeoutMs', async () => {
    const started = Date.now();
    const runId = await run(
      capsule('slow', [
        step('slow', 'soma.sleep', { ms: 20_000 }, { timeoutMs: 1_000, retry: { maximumAttempts: 1 } }),
      ]),
    );
    await expect(h.engine.result(runId)).rejects.toMatchObject({
      code: 'ERR_WORKFLOW_FAILED',
      message: expect.stringMatching(/time/i),
    });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect((await runRow(h.db, tenant, runId)).status).toBe('FAILED');
  });

  it('propagates cancellation to the running step and records the run as cancelled', async () => {
    const started = Date.now();
    const runId = await run(
      capsule('cancel-me', [step('long', 'soma.sleep', { ms: 60_000 }), step('after', 'soma.echo')]),
    );
    await until(
      async () => (await runRow(h.db, tenant, runId)).events.some((e) => e.type === 'STEP_STARTED'),
      30_000,
      'step start',
    );
    await h.engine.cancel(runId);
    await expect(h.engine.result(runId)).rejects.toMatchObject({ code: 'ERR_WORKFLOW_CANCELLED' });
    const row = await until(
      async () => {
        const r = await runRow(h.db, tenant, runId);
        return r.status === 'CANCELLED' && r;
      },
      20_000,
      'run cancelled',
    );
    expect(row.invocations).toEqual([]); // neither the aborted sleep nor the next step took effect
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('waits for a human approval, then continues; a rejection fails the run with the reason', async () => {
    const def = (name: string) =>
      capsule(
        name,
        [{ id: 'review', kind: 'approval', prompt: 'ship it?' }, step('ship', 'soma.echo', { ok: true })],
        {
          outputs: { by: '{{steps.review.output.by}}' },
        },
      );
    const approved = await run(def('approve-me'));
    await until(
      async () => (await runRow(h.db, tenant, approved)).status === 'AWAITING_APPROVAL',
      30_000,
      'awaiting approval',
    );
    await h.engine.signal(approved, approvalSignal('review'), { approved: true, by: 'alice' });
    expect(await h.engine.result(approved)).toEqual({ by: 'alice' });

    const rejected = await run(def('reject-me'));
    await until(
      async () => (await runRow(h.db, tenant, rejected)).status === 'AWAITING_APPROVAL',
      30_000,
      'awaiting approval',
    );
    await h.engine.signal(rejected, approvalSignal('review'), {
      approved: false,
      by: 'bob',
      comment: 'not yet',
    });
    await expect(h.engine.result(rejected)).rejects.toMatchObject({
      message: expect.stringContaining('rejected by bob: not yet'),
    });
    expect((await runRow(h.db, tenant, rejected)).invocations).toEqual([]);
  });

  it('fails an approval that gets no decision within its timeout (a durable timer)', async () => {
    const runId = await run(
      capsule('unanswered', [{ id: 'review', kind: 'approval', prompt: '?', timeoutMs: 500 }]),
    );
    await expect(h.engine.result(runId)).rejects.toMatchObject({
      message: expect.stringContaining('timed out'),
    });
  });

  it('refuses a second start with the id of an existing workflow', async () => {
    const input = await seedRun(
      h.db,
      tenant,
      capsule('twice', [step('wait', 'soma.sleep', { ms: 1_000 })]),
      {},
      {},
      h.engine.kind,
    );
    await h.engine.start('capsuleRun', input.runId, input);
    await expect(h.engine.start('capsuleRun', input.runId, input)).rejects.toMatchObject({
      code: 'ERR_WORKFLOW_ALREADY_STARTED',
    });
    await h.engine.result(input.runId);
  });
});
