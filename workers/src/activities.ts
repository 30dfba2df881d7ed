/**
 * Activities of capsule runs: every effect of a run happens here (run-state writes, tool and
 * model calls, artifacts), built by `createActivities(deps)` and handed to whichever engine runs
 * the workflow. They run at least once; each writes its result idempotently keyed by
 * (run, step), so a re-run attempt after a crash never doubles a side effect. The work of each
 * step kind is its executor (steps/); this file records what happens around it, through the
 * capsules domain's CapsuleRunStore port.
 */
import { type RunEvent, runStream } from '@somaagent/capsule-contract';
import { type ActivityRunInfo, CapsuleRunNotFound } from '@somaagent/ports';
import type {
  ActivitiesDeps,
  ExecuteStepArgs,
  FinishRunArgs,
  MarkStepArgs,
  StepGate,
} from './ActivitiesDeps';
import { checkStepPolicies } from './checkStepPolicies';
import { StepInputError, StepPolicyDenied, StepPolicyUnavailable } from './stepErrors';
import { stepExecutors } from './steps/stepExecutors';

/** A run that does not exist will not appear on retry: the engines do not retry a StepInputError. */
function runMustExist(error: unknown): never {
  throw error instanceof CapsuleRunNotFound ? new StepInputError(error.message) : error;
}

export function createActivities(deps: ActivitiesDeps) {
  const { store } = deps;
  /** Wakes subscriptions once the event is committed; the database stays the record, so a lost publish only delays them. */
  const publish = async (event: RunEvent | null): Promise<void> => {
    if (!deps.streams || !event) return;
    await deps.streams
      .append(runStream(event.runId), event, { floor: event.sequence - 1 })
      .catch(() => undefined);
  };

  return {
    /** Runs one model / tool / memory / artifact step, recording started / completed / failed. */
    async executeStep(args: ExecuteStepArgs, info: ActivityRunInfo): Promise<unknown> {
      const started = await store.startAttempt(args, info.attempt).catch(runMustExist);
      await publish(started.event);
      const run = started.run;
      try {
        const gate: StepGate = args.gate ?? {
          capsule: run?.capsule ?? '',
          version: run?.version ?? '',
          policies: run?.policies ?? [],
        };
        const starter = run?.starter ?? null;
        const executor = stepExecutors[args.kind];
        if (!executor) throw new StepInputError(`unknown step kind "${String(args.kind)}"`);
        executor.ensureRunnable?.(deps);
        // In the activity, not the workflow: a decision is an effect (it reads the engine and is
        // audited), and it is asked again on every attempt.
        await checkStepPolicies(deps, args, gate, starter);
        const output = await executor.execute(args, {
          deps,
          info,
          progress: async (p) =>
            publish(await store.appendEvent(args, 'STEP_PROGRESS', args.key, p).catch(runMustExist)),
          starter,
        });
        await publish(
          await store
            .completeStep(args, info.attempt, output, executor.record?.(args, output))
            .catch(runMustExist),
        );
        return output ?? null;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        const detail =
          error instanceof StepPolicyDenied
            ? { reason: error.reason, policy: error.policy, reasons: error.reasons }
            : error instanceof StepPolicyUnavailable
              ? { reason: error.reason, policy: error.policy }
              : null;
        await store
          .failStep(args, info.attempt, message, detail)
          .then(publish)
          .catch(() => undefined);
        throw error;
      }
    },

    /** Records a step state that needs no work: approvals, branch decisions, parallel and sub-capsule bounds. */
    async markStep(args: MarkStepArgs, _info: ActivityRunInfo): Promise<null> {
      await publish(await store.markStep(args, args.status, args.detail).catch(runMustExist));
      return null;
    },

    /** Records the run's outcome (once: a replayed call leaves the first outcome). */
    async finishRun(args: FinishRunArgs, _info: ActivityRunInfo): Promise<null> {
      const outcome = {
        status: args.status,
        ...(args.output !== undefined ? { output: args.output } : {}),
        ...(args.error !== undefined ? { error: args.error } : {}),
      };
      await publish(await store.finishRun(args, outcome).catch(runMustExist));
      return null;
    },
  };
}

export type CapsuleActivities = ReturnType<typeof createActivities>;
