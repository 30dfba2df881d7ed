/**
 * Activities of capsule runs: every effect of a run happens here (database writes, tool and
 * model calls, artifacts), built by `createActivities(deps)` and handed to whichever engine runs
 * the workflow. They run at least once; each writes its result idempotently keyed by
 * (run, step), so a re-run attempt after a crash never doubles a side effect. The work of each
 * step kind is its executor (steps/); this file records what happens around it.
 */
import { type RunEvent, runStream } from '@somaagent/capsule-contract';
import type { ActivityRunInfo, SqlExecutor } from '@somaagent/ports';
import type {
  ActivitiesDeps,
  ExecuteStepArgs,
  FinishRunArgs,
  MarkStepArgs,
  RunRef,
  RunStarter,
  StepGate,
} from './ActivitiesDeps';
import { appendRunEvent } from './appendRunEvent';
import { checkStepPolicies } from './checkStepPolicies';
import { StepInputError, StepPolicyDenied, StepPolicyUnavailable } from './stepErrors';
import { stepExecutors } from './steps/stepExecutors';

export function createActivities(deps: ActivitiesDeps) {
  const { db } = deps;
  const publish = async (events: RunEvent[]) => {
    if (!deps.streams) return;
    for (const event of events) {
      await deps.streams
        .append(runStream(event.runId), event, { floor: event.sequence - 1 })
        .catch(() => undefined);
    }
  };
  const inTenant = async <T>(run: RunRef, work: (tx: SqlExecutor, events: RunEvent[]) => Promise<T>) => {
    const events: RunEvent[] = [];
    const result = await db.withScope({ tenantId: run.tenantId }, (tx) => work(tx, events));
    await publish(events);
    return result;
  };

  return {
    /** Runs one model / tool / memory / artifact step, recording started / completed / failed. */
    async executeStep(args: ExecuteStepArgs, info: ActivityRunInfo): Promise<unknown> {
      const run = await inTenant(args, async (tx, events) => {
        await tx.query(
          'INSERT INTO capsules.step_attempts (tenant_id, run_id, step_key, attempt) VALUES ($1, $2, $3, $4)',
          [args.tenantId, args.runId, args.key, info.attempt],
        );
        await tx.query(
          `INSERT INTO capsules.run_steps (tenant_id, run_id, step_key, kind, status, attempts)
           VALUES ($1, $2, $3, $4, 'RUNNING', $5)
           ON CONFLICT (run_id, step_key) DO UPDATE SET status = 'RUNNING', attempts = EXCLUDED.attempts, error = NULL, updated_at = clock_timestamp()`,
          [args.tenantId, args.runId, args.key, args.kind, info.attempt],
        );
        events.push(
          await appendRunEvent(tx, args, 'STEP_STARTED', args.key, {
            kind: args.kind,
            attempt: info.attempt,
          }),
        );
        const { rows } = await tx.query<{
          started_as: RunStarter | null;
          name: string;
          version: string;
          policies: string[] | null;
        }>(
          `SELECT r.started_as, c.name, c.version, c.definition->'policies' AS policies
             FROM capsules.runs r JOIN capsules.capsules c ON c.id = r.capsule_id WHERE r.id = $1`,
          [args.runId],
        );
        return rows[0];
      });
      try {
        const gate: StepGate = args.gate ?? {
          capsule: run?.name ?? '',
          version: run?.version ?? '',
          policies: run?.policies ?? [],
        };
        const starter = run?.started_as ?? null;
        const executor = stepExecutors[args.kind];
        if (!executor) throw new StepInputError(`unknown step kind "${String(args.kind)}"`);
        executor.ensureRunnable?.(deps);
        // In the activity, not the workflow: a decision is an effect (it reads the engine and is
        // audited), and it is asked again on every attempt.
        await checkStepPolicies(deps, args, gate, starter);
        const output = await executor.execute(args, {
          deps,
          info,
          progress: (p) =>
            inTenant(args, async (tx, events) => {
              events.push(await appendRunEvent(tx, args, 'STEP_PROGRESS', args.key, p));
            }),
          starter,
        });
        await inTenant(args, async (tx, events) => {
          await executor.record?.(tx, args, output);
          await tx.query(
            `UPDATE capsules.run_steps SET status = 'COMPLETED', output = $3, updated_at = clock_timestamp()
              WHERE run_id = $1 AND step_key = $2`,
            [args.runId, args.key, JSON.stringify(output ?? null)],
          );
          events.push(
            await appendRunEvent(tx, args, 'STEP_COMPLETED', args.key, {
              kind: args.kind,
              attempt: info.attempt,
            }),
          );
        });
        return output ?? null;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        const detail =
          error instanceof StepPolicyDenied
            ? { reason: error.reason, policy: error.policy, reasons: error.reasons }
            : error instanceof StepPolicyUnavailable
              ? { reason: error.reason, policy: error.policy }
              : null;
        await inTenant(args, async (tx, events) => {
          await tx.query(
            `UPDATE capsules.run_steps SET status = 'FAILED', error = $3, detail = COALESCE($4, detail), updated_at = clock_timestamp()
              WHERE run_id = $1 AND step_key = $2`,
            [args.runId, args.key, message, detail ? JSON.stringify(detail) : null],
          );
          events.push(
            await appendRunEvent(tx, args, 'STEP_FAILED', args.key, {
              kind: args.kind,
              attempt: info.attempt,
              error: message,
              ...detail,
            }),
          );
        }).catch(() => undefined);
        throw error;
      }
    },

    /** Records a step state that needs no work: approvals, branch decisions, parallel and sub-capsule bounds. */
    async markStep(args: MarkStepArgs, _info: ActivityRunInfo): Promise<null> {
      await inTenant(args, async (tx, events) => {
        await tx.query(
          `INSERT INTO capsules.run_steps (tenant_id, run_id, step_key, kind, status, detail, error)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (run_id, step_key) DO UPDATE SET status = EXCLUDED.status, detail = EXCLUDED.detail,
             error = EXCLUDED.error, updated_at = clock_timestamp()`,
          [
            args.tenantId,
            args.runId,
            args.key,
            args.kind,
            args.status,
            JSON.stringify(args.detail),
            (args.detail.error as string) ?? null,
          ],
        );
        if (args.status === 'AWAITING_APPROVAL') {
          await tx.query(
            `UPDATE capsules.runs SET status = 'AWAITING_APPROVAL' WHERE id = $1 AND status = 'RUNNING'`,
            [args.runId],
          );
          events.push(await appendRunEvent(tx, args, 'AWAITING_APPROVAL', args.key, args.detail));
          return;
        }
        if (args.status === 'APPROVED' || args.status === 'REJECTED') {
          await tx.query(
            `UPDATE capsules.runs SET status = 'RUNNING' WHERE id = $1 AND status = 'AWAITING_APPROVAL'`,
            [args.runId],
          );
          events.push(
            await appendRunEvent(tx, args, 'APPROVAL_DECIDED', args.key, {
              status: args.status,
              ...args.detail,
            }),
          );
          return;
        }
        const type =
          args.status === 'RUNNING'
            ? 'STEP_STARTED'
            : args.status === 'FAILED'
              ? 'STEP_FAILED'
              : 'STEP_COMPLETED';
        events.push(await appendRunEvent(tx, args, type, args.key, { kind: args.kind, ...args.detail }));
      });
      return null;
    },

    /** Records the run's outcome (once: a replayed call leaves the first outcome). */
    async finishRun(args: FinishRunArgs, _info: ActivityRunInfo): Promise<null> {
      await inTenant(args, async (tx, events) => {
        const { rowCount } = await tx.query(
          `UPDATE capsules.runs SET status = $2, output = $3, error = $4, finished_at = clock_timestamp(), updated_at = clock_timestamp()
            WHERE id = $1 AND status IN ('RUNNING', 'AWAITING_APPROVAL')`,
          [args.runId, args.status, JSON.stringify(args.output ?? null), args.error ?? null],
        );
        if (rowCount === 0) return;
        const type =
          args.status === 'COMPLETED'
            ? 'RUN_COMPLETED'
            : args.status === 'FAILED'
              ? 'RUN_FAILED'
              : 'RUN_CANCELLED';
        events.push(
          await appendRunEvent(
            tx,
            args,
            type,
            null,
            args.status === 'COMPLETED' ? { output: args.output ?? null } : { error: args.error ?? null },
          ),
        );
      });
      return null;
    },
  };
}

export type CapsuleActivities = ReturnType<typeof createActivities>;
