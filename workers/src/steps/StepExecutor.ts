import type { ActivityRunInfo, CapsuleStepRecord } from '@somaagent/ports';
import type { ActivitiesDeps, ExecuteStepArgs, RunStarter } from '../ActivitiesDeps';

/** What an executor gets besides the step: the activity's deps, attempt info, progress and the run's starter. */
export interface StepContext {
  deps: ActivitiesDeps;
  info: ActivityRunInfo;
  /** Appends a STEP_PROGRESS event (committed and published before it resolves). */
  progress(detail: Record<string, unknown>): Promise<void>;
  /** Who started the run, with the rights recorded then (null for runs that recorded none). */
  starter: RunStarter | null;
}

/** One step kind's work. The activity records started / completed / failed around it. */
export interface StepExecutor {
  /**
   * Refuses the step before its policies are asked when this process cannot run it at all
   * (throw a StepInputError saying what is missing). @default always runnable
   */
  ensureRunnable?(deps: ActivitiesDeps): void;
  execute(args: ExecuteStepArgs, context: StepContext): Promise<unknown>;
  /**
   * The kind's own row, which the run store writes in the transaction that marks the step
   * completed, keyed by (run, step) so a repeated attempt writes nothing twice. @default none
   */
  record?(args: ExecuteStepArgs, output: unknown): CapsuleStepRecord;
}
