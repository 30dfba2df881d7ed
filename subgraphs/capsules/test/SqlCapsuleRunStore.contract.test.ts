import { randomUUID } from 'node:crypto';
import type { CapsuleDefinition } from '@somaagent/capsule-contract';
import { CapsuleRunNotFound, type CapsuleRunRef, type SqlDatabase } from '@somaagent/ports';
import { PgliteSqlDatabase } from '@somaagent/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../tests/support/postgres';
import { CapsuleStore } from '../src/CapsuleStore';
import { capsulesMigrations } from '../src/migrations';
import { SqlCapsuleRunStore } from '../src/SqlCapsuleRunStore';

// The CapsuleRunStore port (what the run workers write through) on both database adapters:
// state and event in one transaction, events numbered without gaps, a kind's row written once
// per (run, step), and a run of another tenant never found.
const adapters: [string, () => Promise<SqlDatabase>][] = [
  ['pglite', () => PgliteSqlDatabase.open(undefined, { vector: false })],
  ['postgres', () => createTestDatabase()],
];

const TENANT_A = '00000000-0000-4000-8000-0000000000a1';
const TENANT_B = '00000000-0000-4000-8000-0000000000b2';

const definition: CapsuleDefinition = {
  name: 'store-contract',
  version: '1.0.0',
  policies: ['tenant.member'],
  steps: [{ id: 'one', kind: 'toolCall', tool: 'soma.echo' }],
};
const starter = {
  subject: 'user-1',
  tenantId: TENANT_A,
  roles: ['member'],
  capabilities: ['capsules:run'],
  platformAdmin: false,
  authMethod: 'password',
  issuer: 'https://issuer.test',
};

describe.each(adapters)('CapsuleRunStore contract: SqlCapsuleRunStore on %s', (_name, open) => {
  let db: SqlDatabase;
  let store: SqlCapsuleRunStore;
  let capsuleId: string;

  beforeAll(async () => {
    db = await open();
    await db.migrate(capsulesMigrations);
    store = new SqlCapsuleRunStore(db);
    const capsules = new CapsuleStore(db);
    const caller = { tenantId: TENANT_A, subject: 'author', capabilities: ['*'] };
    capsuleId = (
      await capsules.inTenant(caller, (tx) =>
        capsules.insertCapsule(tx, caller, definition, JSON.stringify(definition)),
      )
    ).id;
  });
  afterAll(async () => {
    await db?.[Symbol.asyncDispose]();
  });

  /** A RUNNING run of tenant A, inserted as CapsuleRuns.startRun inserts it. */
  async function newRun(startedAs: unknown = starter): Promise<CapsuleRunRef> {
    const capsules = new CapsuleStore(db);
    const caller = { tenantId: TENANT_A, subject: 'user-1', capabilities: ['*'] };
    const id = randomUUID();
    await capsules.inTenant(caller, (tx) =>
      capsules.insertRun(tx, {
        id,
        tenantId: TENANT_A,
        capsuleId,
        inputs: {},
        engine: 'test',
        startedBy: 'user-1',
        startedAs,
      }),
    );
    return { tenantId: TENANT_A, runId: id };
  }

  const read = (run: CapsuleRunRef) =>
    db.withScope({ tenantId: run.tenantId }, async (tx) => ({
      run: (
        await tx.query<{ status: string; output: unknown; error: string | null; last_sequence: number }>(
          'SELECT status, output, error, last_sequence::int AS last_sequence, finished_at FROM capsules.runs WHERE id = $1',
          [run.runId],
        )
      ).rows[0],
      steps: (
        await tx.query<{
          step_key: string;
          status: string;
          attempts: number;
          detail: unknown;
          error: string | null;
          output: unknown;
        }>(
          'SELECT step_key, status, attempts, detail, error, output FROM capsules.run_steps WHERE run_id = $1 ORDER BY step_key',
          [run.runId],
        )
      ).rows,
      events: (
        await tx.query<{
          sequence: string;
          type: string;
          step_key: string | null;
          payload: Record<string, unknown>;
        }>(
          'SELECT sequence, type, step_key, payload FROM capsules.run_events WHERE run_id = $1 ORDER BY sequence',
          [run.runId],
        )
      ).rows,
      attempts: (
        await tx.query<{ attempt: number }>(
          'SELECT attempt FROM capsules.step_attempts WHERE run_id = $1 ORDER BY id',
          [run.runId],
        )
      ).rows.map((r) => r.attempt),
      artifacts: (
        await tx.query<{ name: string; object_key: string; size: number }>(
          'SELECT name, object_key, size::int AS size FROM capsules.artifacts WHERE run_id = $1',
          [run.runId],
        )
      ).rows,
      invocations: (
        await tx.query<{ tool: string; args: unknown; result: unknown }>(
          'SELECT tool, args, result FROM capsules.tool_invocations WHERE run_id = $1',
          [run.runId],
        )
      ).rows,
    }));

  it('starts an attempt: attempt row, step RUNNING, STEP_STARTED, and the run context read in the same call', async () => {
    const run = await newRun();
    const step = { ...run, key: 'one', kind: 'toolCall' };
    const first = await store.startAttempt(step, 1);
    expect(first.event).toMatchObject({
      sequence: 1,
      type: 'STEP_STARTED',
      runId: run.runId,
      stepKey: 'one',
      payload: { kind: 'toolCall', attempt: 1 },
    });
    expect(new Date(first.event.at).toISOString()).toBe(first.event.at);
    expect(first.run).toEqual({
      capsule: 'store-contract',
      version: '1.0.0',
      policies: ['tenant.member'],
      starter,
    });
    await store.failStep(step, 1, 'boom', null);
    const second = await store.startAttempt(step, 2);
    expect(second.event.sequence).toBe(3);
    const state = await read(run);
    expect(state.attempts).toEqual([1, 2]);
    expect(state.steps).toMatchObject([{ step_key: 'one', status: 'RUNNING', attempts: 2, error: null }]);
  });

  it('answers a run that recorded no starter with starter null', async () => {
    const run = await newRun(null);
    const { run: context } = await store.startAttempt({ ...run, key: 'one', kind: 'toolCall' }, 1);
    expect(context?.starter).toBeNull();
  });

  it('completes a step with its output and writes the kind’s row once, however often it completes', async () => {
    const run = await newRun();
    const tool = { ...run, key: 'tool', kind: 'toolCall' };
    const artifact = { ...run, key: 'art', kind: 'artifact' };
    await store.startAttempt(tool, 1);
    await store.appendEvent(run, 'STEP_PROGRESS', 'tool', { characters: 3 });
    const toolRecord = {
      kind: 'toolInvocation' as const,
      tool: 'soma.echo',
      args: { a: 1 },
      result: { a: 1 },
    };
    const done = await store.completeStep(tool, 1, { a: 1 }, toolRecord);
    expect(done).toMatchObject({
      sequence: 3,
      type: 'STEP_COMPLETED',
      payload: { kind: 'toolCall', attempt: 1 },
    });
    // A re-run attempt after a crash completes again: the row is not doubled (nor changed).
    await store.completeStep(tool, 2, { a: 2 }, { ...toolRecord, result: { a: 2 } });
    await store.startAttempt(artifact, 1);
    const artifactRecord = {
      kind: 'artifact' as const,
      name: 'out.txt',
      objectKey: `tenants/${run.tenantId}/runs/${run.runId}/art/out.txt`,
      contentType: 'text/plain',
      size: 5,
    };
    await store.completeStep(artifact, 1, artifactRecord, artifactRecord);
    await store.completeStep(artifact, 1, artifactRecord, artifactRecord);
    const state = await read(run);
    expect(state.invocations).toEqual([{ tool: 'soma.echo', args: { a: 1 }, result: { a: 1 } }]);
    expect(state.artifacts).toEqual([{ name: 'out.txt', object_key: artifactRecord.objectKey, size: 5 }]);
    expect(state.steps.find((s) => s.step_key === 'tool')).toMatchObject({
      status: 'COMPLETED',
      output: { a: 2 },
    });
    expect(state.events.map((e) => [Number(e.sequence), e.type])).toEqual([
      [1, 'STEP_STARTED'],
      [2, 'STEP_PROGRESS'],
      [3, 'STEP_COMPLETED'],
      [4, 'STEP_COMPLETED'],
      [5, 'STEP_STARTED'],
      [6, 'STEP_COMPLETED'],
      [7, 'STEP_COMPLETED'],
    ]);
    expect(state.run?.last_sequence).toBe(7);
  });

  it('writes state, record and event in one transaction: a record the table refuses leaves the step and the log as they were', async () => {
    const run = await newRun();
    const step = { ...run, key: 'art', kind: 'artifact' };
    await store.startAttempt(step, 1);
    const refused = {
      kind: 'artifact' as const,
      name: null as unknown as string,
      objectKey: 'k',
      contentType: 't',
      size: 1,
    };
    await expect(store.completeStep(step, 1, {}, refused)).rejects.toThrow();
    const state = await read(run);
    expect(state.steps).toMatchObject([{ status: 'RUNNING' }]);
    expect(state.events.map((e) => e.type)).toEqual(['STEP_STARTED']);
    expect(state.artifacts).toEqual([]);
    expect(state.run?.last_sequence).toBe(1);
    // The next event takes the next number: the rolled-back one left no gap.
    expect((await store.failStep(step, 1, 'refused', null)).sequence).toBe(2);
  });

  it('fails a step with its error and a policy’s detail, keeping an earlier detail when given none', async () => {
    const run = await newRun();
    const step = { ...run, key: 'gated', kind: 'modelCall' };
    await store.startAttempt(step, 1);
    const detail = { reason: 'POLICY_DENIED', policy: 'tenant.member', reasons: ['no'] };
    const failed = await store.failStep(step, 1, 'denied', detail);
    expect(failed).toMatchObject({
      type: 'STEP_FAILED',
      payload: { kind: 'modelCall', attempt: 1, error: 'denied', ...detail },
    });
    await store.failStep(step, 2, 'again', null);
    const state = await read(run);
    expect(state.steps).toMatchObject([{ status: 'FAILED', error: 'again', detail }]);
  });

  it('marks approval steps: the run waits for the decision and resumes after it', async () => {
    const run = await newRun();
    const step = { ...run, key: 'review', kind: 'approval' };
    const waiting = await store.markStep(step, 'AWAITING_APPROVAL', { prompt: 'ok?' });
    expect(waiting).toMatchObject({ type: 'AWAITING_APPROVAL', payload: { prompt: 'ok?' } });
    expect((await read(run)).run?.status).toBe('AWAITING_APPROVAL');
    const decided = await store.markStep(step, 'APPROVED', { approved: true, by: 'boss' });
    expect(decided).toMatchObject({ type: 'APPROVAL_DECIDED', payload: { status: 'APPROVED', by: 'boss' } });
    const state = await read(run);
    expect(state.run?.status).toBe('RUNNING');
    expect(state.steps).toMatchObject([{ step_key: 'review', status: 'APPROVED', detail: { by: 'boss' } }]);
  });

  it('marks bookkeeping steps with STEP_STARTED, STEP_COMPLETED and STEP_FAILED, the error from the detail', async () => {
    const run = await newRun();
    const types = [
      (await store.markStep({ ...run, key: 'par', kind: 'parallel' }, 'RUNNING', { branches: 2 })).type,
      (await store.markStep({ ...run, key: 'par', kind: 'parallel' }, 'COMPLETED', {})).type,
      (await store.markStep({ ...run, key: 'late', kind: 'approval' }, 'FAILED', { error: 'no decision' }))
        .type,
    ];
    expect(types).toEqual(['STEP_STARTED', 'STEP_COMPLETED', 'STEP_FAILED']);
    const state = await read(run);
    expect(state.run?.status).toBe('RUNNING');
    expect(state.steps).toMatchObject([
      { step_key: 'late', status: 'FAILED', error: 'no decision' },
      { step_key: 'par', status: 'COMPLETED', error: null },
    ]);
  });

  it('finishes a run once: a replayed finish keeps the first outcome and appends nothing', async () => {
    const run = await newRun();
    const finished = await store.finishRun(run, { status: 'COMPLETED', output: { answer: 42 } });
    expect(finished).toMatchObject({
      sequence: 1,
      type: 'RUN_COMPLETED',
      stepKey: null,
      payload: { output: { answer: 42 } },
    });
    expect(await store.finishRun(run, { status: 'FAILED', error: 'late' })).toBeNull();
    const state = await read(run);
    expect(state.run).toMatchObject({ status: 'COMPLETED', output: { answer: 42 }, error: null });
    expect(state.events).toHaveLength(1);
    const failedRun = await newRun();
    expect(
      await store.finishRun(failedRun, { status: 'CANCELLED', error: 'cancelled on request' }),
    ).toMatchObject({
      type: 'RUN_CANCELLED',
      payload: { error: 'cancelled on request' },
    });
  });

  it('numbers concurrent appends of one run 1..n without gaps or duplicates', async () => {
    const run = await newRun();
    const events = await Promise.all(
      Array.from({ length: 12 }, (_, i) => store.appendEvent(run, 'STEP_PROGRESS', 'one', { i })),
    );
    expect(events.map((e) => e.sequence).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
  });

  it('never finds another tenant’s run, and writes nothing to it', async () => {
    const run = await newRun();
    const foreign = { tenantId: TENANT_B, runId: run.runId };
    const step = { ...foreign, key: 'one', kind: 'toolCall' };
    await expect(store.startAttempt(step, 1)).rejects.toBeInstanceOf(CapsuleRunNotFound);
    await expect(store.appendEvent(foreign, 'STEP_PROGRESS', 'one', {})).rejects.toBeInstanceOf(
      CapsuleRunNotFound,
    );
    await expect(
      store.completeStep(step, 1, null, { kind: 'toolInvocation', tool: 't', args: {}, result: null }),
    ).rejects.toBeInstanceOf(CapsuleRunNotFound);
    await expect(store.failStep(step, 1, 'x', null)).rejects.toBeInstanceOf(CapsuleRunNotFound);
    await expect(store.markStep(step, 'AWAITING_APPROVAL', {})).rejects.toBeInstanceOf(CapsuleRunNotFound);
    expect(await store.finishRun(foreign, { status: 'FAILED', error: 'x' })).toBeNull();
    const state = await read(run);
    expect(state).toMatchObject({ steps: [], events: [], attempts: [], invocations: [], artifacts: [] });
    expect(state.run).toMatchObject({ status: 'RUNNING', last_sequence: 0 });
    await expect(
      store.appendEvent({ tenantId: TENANT_A, runId: randomUUID() }, 'STEP_PROGRESS', null, {}),
    ).rejects.toThrow(/does not exist in tenant/);
  });
});
