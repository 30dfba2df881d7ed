/** What happened in a run, in the order the run's log (capsules.run_events) numbers it. */
export type RunEventType =
  | 'STEP_STARTED'
  | 'STEP_PROGRESS'
  | 'STEP_COMPLETED'
  | 'STEP_FAILED'
  | 'AWAITING_APPROVAL'
  | 'APPROVAL_DECIDED'
  | 'RUN_COMPLETED'
  | 'RUN_FAILED'
  | 'RUN_CANCELLED';

/** One event of a run as the workers append it and the run subscription streams it. */
export interface RunEvent {
  /** 1, 2, ... per run, without gaps. */
  sequence: number;
  type: RunEventType;
  runId: string;
  stepKey: string | null;
  payload: Record<string, unknown>;
  /** ISO 8601, UTC. */
  at: string;
}
