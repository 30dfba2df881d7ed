/**
 * How the capsules service starts, signals and follows a run that the capsule-run workflow
 * (workers/) executes. Pure: the workflow imports it inside Temporal's sandbox.
 */
import type { CapsuleDefinition } from './definition';

/** Workflow type of a capsule run, on every engine. */
export const CAPSULE_RUN_WORKFLOW = 'capsuleRun';

export interface CapsuleRunInput {
  tenantId: string;
  runId: string;
  definition: CapsuleDefinition;
  inputs: Record<string, unknown>;
  /** Sub-capsules the definition (transitively) uses, by `name@version`, resolved when the run started. */
  capsules: Record<string, CapsuleDefinition>;
}

export interface ApprovalDecision {
  approved: boolean;
  by: string;
  comment?: string;
}

/** Signal name of the decision on approval step `key`. */
export const approvalSignal = (key: string) => `approval:${key}`;

/** The StreamLog stream of one run's events. */
export const runStream = (runId: string) => `capsule-run:${runId}`;
