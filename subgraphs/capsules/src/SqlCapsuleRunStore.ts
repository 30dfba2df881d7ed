import type { RunEvent, RunEventType } from '@somaagent/capsule-contract';
import {
  type CapsuleMarkedStepStatus,
  type CapsuleRunContext,
  CapsuleRunNotFound,
  type CapsuleRunOutcome,
  type CapsuleRunRef,
  type CapsuleRunStarter,
  type CapsuleRunStore,
  type CapsuleStepRecord,
  type CapsuleStepRef,
  type SqlDatabase,
  type SqlExecutor,
} from '@somaagent/ports';

/**
 * The CapsuleRunStore port on the capsules schema: the only writer of run state besides the
 * service that inserts a run. Each method is one `withScope` transaction in the run's tenant.
 */
export class SqlCapsuleRunStore implements CapsuleRunStore {
  constructor(private readonly db: SqlDatabase) {}

  private inTenant<T>(run: CapsuleRunRef, work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.db.withScope({ tenantId: run.tenantId }, work);
  }

  startAttempt(step: CapsuleStepRef, attempt: number) {
    return this.inTenant(step, async (tx) => {
      // The event first: it is what finds out that the run is not the tenant's (CapsuleRunNotFound
      // rather than a foreign-key violation of the rows below).
      const event = await appendEvent(tx, step, 'STEP_STARTED', step.key, { kind: step.kind, attempt });
      await tx.query(
        'INSERT INTO capsules.step_attempts (tenant_id, run_id, step_key, attempt) VALUES ($1, $2, $3, $4)',
        [step.tenantId, step.runId, step.key, attempt],
      );
      await tx.query(
        `INSERT INTO capsules.run_steps (tenant_id, run_id, step_key, kind, status, attempts)
         VALUES ($1, $2, $3, $4, 'RUNNING', $5)
         ON CONFLICT (run_id, step_key) DO UPDATE SET status = 'RUNNING', attempts = EXCLUDED.attempts, error = NULL, updated_at = clock_timestamp()`,
        [step.tenantId, step.runId, step.key, step.kind, attempt],
      );
      const { rows } = await tx.query<{
        started_as: CapsuleRunStarter | null;
        name: string;
        version: string;
        policies: string[] | null;
      }>(
        `SELECT r.started_as, c.name, c.version, c.definition->'policies' AS policies
           FROM capsules.runs r JOIN capsules.capsules c ON c.id = r.capsule_id WHERE r.id = $1`,
        [step.runId],
      );
      const row = rows[0];
      const run: CapsuleRunContext | null = row
        ? { capsule: row.name, version: row.version, policies: row.policies ?? [], starter: row.started_as }
        : null;
      return { event, run };
    });
  }

  appendEvent(
    run: CapsuleRunRef,
    type: RunEventType,
    stepKey: string | null,
    payload: Record<string, unknown>,
  ) {
    return this.inTenant(run, (tx) => appendEvent(tx, run, type, stepKey, payload));
  }

  completeStep(step: CapsuleStepRef, attempt: number, output: unknown, record?: CapsuleStepRecord) {
    return this.inTenant(step, async (tx) => {
      const event = await appendEvent(tx, step, 'STEP_COMPLETED', step.key, { kind: step.kind, attempt });
      if (record) await writeRecord(tx, step, record);
      await tx.query(
        `UPDATE capsules.run_steps SET status = 'COMPLETED', output = $3, updated_at = clock_timestamp()
          WHERE run_id = $1 AND step_key = $2`,
        [step.runId, step.key, JSON.stringify(output ?? null)],
      );
      return event;
    });
  }

  failStep(step: CapsuleStepRef, attempt: number, error: string, detail: Record<string, unknown> | null) {
    return this.inTenant(step, async (tx) => {
      await tx.query(
        `UPDATE capsules.run_steps SET status = 'FAILED', error = $3, detail = COALESCE($4, detail), updated_at = clock_timestamp()
          WHERE run_id = $1 AND step_key = $2`,
        [step.runId, step.key, error, detail ? JSON.stringify(detail) : null],
      );
      return appendEvent(tx, step, 'STEP_FAILED', step.key, {
        kind: step.kind,
        attempt,
        error,
        ...detail,
      });
    });
  }

  markStep(step: CapsuleStepRef, status: CapsuleMarkedStepStatus, detail: Record<string, unknown>) {
    // Waiting for a decision pauses the run; the decision resumes it (the workflow goes on either way).
    const [type, payload, runTransition]: [RunEventType, Record<string, unknown>, [string, string] | null] =
      status === 'AWAITING_APPROVAL'
        ? ['AWAITING_APPROVAL', detail, ['RUNNING', 'AWAITING_APPROVAL']]
        : status === 'APPROVED' || status === 'REJECTED'
          ? ['APPROVAL_DECIDED', { status, ...detail }, ['AWAITING_APPROVAL', 'RUNNING']]
          : [
              status === 'RUNNING' ? 'STEP_STARTED' : status === 'FAILED' ? 'STEP_FAILED' : 'STEP_COMPLETED',
              { kind: step.kind, ...detail },
              null,
            ];
    return this.inTenant(step, async (tx) => {
      const event = await appendEvent(tx, step, type, step.key, payload);
      await tx.query(
        `INSERT INTO capsules.run_steps (tenant_id, run_id, step_key, kind, status, detail, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (run_id, step_key) DO UPDATE SET status = EXCLUDED.status, detail = EXCLUDED.detail,
           error = EXCLUDED.error, updated_at = clock_timestamp()`,
        [
          step.tenantId,
          step.runId,
          step.key,
          step.kind,
          status,
          JSON.stringify(detail),
          (detail.error as string) ?? null,
        ],
      );
      if (runTransition) {
        await tx.query('UPDATE capsules.runs SET status = $3 WHERE id = $1 AND status = $2', [
          step.runId,
          ...runTransition,
        ]);
      }
      return event;
    });
  }

  finishRun(run: CapsuleRunRef, outcome: CapsuleRunOutcome) {
    return this.inTenant(run, async (tx) => {
      const { rowCount } = await tx.query(
        `UPDATE capsules.runs SET status = $2, output = $3, error = $4, finished_at = clock_timestamp(), updated_at = clock_timestamp()
          WHERE id = $1 AND status IN ('RUNNING', 'AWAITING_APPROVAL')`,
        [run.runId, outcome.status, JSON.stringify(outcome.output ?? null), outcome.error ?? null],
      );
      if (rowCount === 0) return null;
      const type: RunEventType =
        outcome.status === 'COMPLETED'
          ? 'RUN_COMPLETED'
          : outcome.status === 'FAILED'
            ? 'RUN_FAILED'
            : 'RUN_CANCELLED';
      return appendEvent(
        tx,
        run,
        type,
        null,
        outcome.status === 'COMPLETED'
          ? { output: outcome.output ?? null }
          : { error: outcome.error ?? null },
      );
    });
  }
}

const missing = (run: CapsuleRunRef) =>
  new CapsuleRunNotFound(`run ${run.runId} does not exist in tenant ${run.tenantId}`);

/** Numbers the event (runs.last_sequence) and inserts it in `tx`: no gap, no duplicate sequence. */
async function appendEvent(
  tx: SqlExecutor,
  run: CapsuleRunRef,
  type: RunEventType,
  stepKey: string | null,
  payload: Record<string, unknown>,
): Promise<RunEvent> {
  const { rows } = await tx.query<{ last_sequence: string }>(
    'UPDATE capsules.runs SET last_sequence = last_sequence + 1, updated_at = clock_timestamp() WHERE id = $1 RETURNING last_sequence',
    [run.runId],
  );
  if (!rows[0]) throw missing(run);
  const sequence = Number(rows[0].last_sequence);
  const inserted = await tx.query<{ at: Date | string }>(
    `INSERT INTO capsules.run_events (tenant_id, run_id, sequence, type, step_key, payload)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING at`,
    [run.tenantId, run.runId, sequence, type, stepKey, JSON.stringify(payload)],
  );
  const at = inserted.rows[0]!.at;
  return { sequence, type, runId: run.runId, stepKey, payload, at: new Date(at).toISOString() };
}

/** Keyed by (run, step) with ON CONFLICT DO NOTHING: a repeated attempt writes nothing twice. */
async function writeRecord(tx: SqlExecutor, step: CapsuleStepRef, record: CapsuleStepRecord): Promise<void> {
  if (record.kind === 'artifact') {
    await tx.query(
      `INSERT INTO capsules.artifacts (tenant_id, run_id, step_key, name, object_key, content_type, size)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (run_id, step_key) DO NOTHING`,
      [step.tenantId, step.runId, step.key, record.name, record.objectKey, record.contentType, record.size],
    );
    return;
  }
  await tx.query(
    `INSERT INTO capsules.tool_invocations (tenant_id, run_id, step_key, tool, args, result)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run_id, step_key) DO NOTHING`,
    [
      step.tenantId,
      step.runId,
      step.key,
      record.tool,
      JSON.stringify(record.args ?? {}),
      JSON.stringify(record.result ?? null),
    ],
  );
}
