import type { RunEvent, RunEventType } from '@somaagent/capsule-contract';
import type { PolicySubject } from './PolicyEvaluator';

/** One run of one tenant; every call runs in that tenant's scope (row-level security). */
export interface CapsuleRunRef {
  tenantId: string;
  runId: string;
}

/** One step of a run: its key (`child/inner` inside sub-capsules) and its kind. */
export interface CapsuleStepRef extends CapsuleRunRef {
  key: string;
  kind: string;
}

/** Who started a run, as the policy engine sees them, plus the token's issuer. */
export interface CapsuleRunStarter extends PolicySubject {
  issuer?: string;
}

/** What an attempt needs of its run: the capsule (name, version, its `policies`) and who started it. */
export interface CapsuleRunContext {
  capsule: string;
  version: string;
  policies: string[];
  /** Null for runs that recorded none (started before runs recorded their starter). */
  starter: CapsuleRunStarter | null;
}

/** A step kind's own row, written in the transaction that completes the step, once per (run, step). */
export type CapsuleStepRecord =
  | { kind: 'artifact'; name: string; objectKey: string; contentType: string; size: number }
  | { kind: 'toolInvocation'; tool: string; args: unknown; result: unknown };

/** States of a step that needs no work of its own (approvals, branches, parallel and sub-capsule bounds). */
export type CapsuleMarkedStepStatus =
  | 'RUNNING'
  | 'COMPLETED'
  | 'FAILED'
  | 'AWAITING_APPROVAL'
  | 'APPROVED'
  | 'REJECTED';

export interface CapsuleRunOutcome {
  status: 'COMPLETED' | 'FAILED' | 'CANCELLED';
  output?: unknown;
  error?: string;
}

/** The run does not exist in its tenant (never created, or another tenant's): retrying cannot help. */
export class CapsuleRunNotFound extends Error {
  override name = 'CapsuleRunNotFound';
}

/**
 * Run-state writes of capsule runs: the capsules domain owns the tables, the run workers write
 * only through this port. Each method is one transaction that changes a step or the run AND
 * appends the matching event to the run's log (numbered without gaps), and returns what it
 * appended, for the caller to publish once committed. Methods may run again for the same step
 * (activities run at least once): rows keyed by (run, step) are written once.
 * Every method that appends an event throws CapsuleRunNotFound when the run is not the tenant's.
 */
export interface CapsuleRunStore {
  /**
   * Records attempt `attempt` of an executed step: the attempt row, the step RUNNING, its
   * STEP_STARTED event; and reads the run's capsule and starter.
   */
  startAttempt(
    step: CapsuleStepRef,
    attempt: number,
  ): Promise<{ event: RunEvent; run: CapsuleRunContext | null }>;
  /** Appends an event that changes no state (STEP_PROGRESS). */
  appendEvent(
    run: CapsuleRunRef,
    type: RunEventType,
    stepKey: string | null,
    payload: Record<string, unknown>,
  ): Promise<RunEvent>;
  /** The step COMPLETED with `output`, its kind's own row (`record`) and STEP_COMPLETED. */
  completeStep(
    step: CapsuleStepRef,
    attempt: number,
    output: unknown,
    record?: CapsuleStepRecord,
  ): Promise<RunEvent>;
  /** The step FAILED with `error` (and a policy's `detail`) and STEP_FAILED. */
  failStep(
    step: CapsuleStepRef,
    attempt: number,
    error: string,
    detail: Record<string, unknown> | null,
  ): Promise<RunEvent>;
  /**
   * A step state that needs no work: AWAITING_APPROVAL also sets the run AWAITING_APPROVAL
   * (event AWAITING_APPROVAL), APPROVED / REJECTED set it RUNNING again (APPROVAL_DECIDED); the
   * others append STEP_STARTED, STEP_COMPLETED or STEP_FAILED. `detail.error` is the step's error.
   */
  markStep(
    step: CapsuleStepRef,
    status: CapsuleMarkedStepStatus,
    detail: Record<string, unknown>,
  ): Promise<RunEvent>;
  /**
   * The run's outcome and RUN_COMPLETED / RUN_FAILED / RUN_CANCELLED, once: a run that already
   * ended keeps its first outcome and this returns null (as it does for a run not the tenant's).
   */
  finishRun(run: CapsuleRunRef, outcome: CapsuleRunOutcome): Promise<RunEvent | null>;
}
