import type { RunEvent, RunEventType } from '@somaagent/capsule-contract';
import type { SqlExecutor } from '@somaagent/ports';
import type { RunRef } from './ActivitiesDeps';
import { StepInputError } from './stepErrors';

/** Appends an event to the run's log inside `tx`; the caller publishes it after commit. */
export async function appendRunEvent(
  tx: SqlExecutor,
  run: RunRef,
  type: RunEventType,
  stepKey: string | null,
  payload: Record<string, unknown>,
): Promise<RunEvent> {
  const { rows } = await tx.query<{ last_sequence: string }>(
    'UPDATE capsules.runs SET last_sequence = last_sequence + 1, updated_at = clock_timestamp() WHERE id = $1 RETURNING last_sequence',
    [run.runId],
  );
  if (!rows[0]) throw new StepInputError(`run ${run.runId} does not exist in tenant ${run.tenantId}`);
  const sequence = Number(rows[0].last_sequence);
  const inserted = await tx.query<{ at: Date | string }>(
    `INSERT INTO capsules.run_events (tenant_id, run_id, sequence, type, step_key, payload)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING at`,
    [run.tenantId, run.runId, sequence, type, stepKey, JSON.stringify(payload)],
  );
  const at = inserted.rows[0]!.at;
  return { sequence, type, runId: run.runId, stepKey, payload, at: new Date(at).toISOString() };
}
