/**
 * Durable-workflow port. Workflow code is written once against `WorkflowContext` (deterministic:
 * no clock, no randomness, no I/O except through the context) and runs unchanged on every
 * adapter: Temporal in distributed mode, an embedded step-journal engine on PostgreSQL/PGlite in
 * the default mode. Activities do the I/O; they run at least once, so a side effect that must
 * happen exactly once is written idempotently (keyed by workflow id + step key) in the same
 * database transaction that records it.
 */

/** How an activity is retried and bounded. */
export interface ActivityOptions {
  /** Bound on one attempt; the attempt's `signal` aborts and the attempt counts as failed. */
  startToCloseTimeoutMs: number;
  retry?: RetryPolicy;
}

export interface RetryPolicy {
  /** Attempts in total, the first included. @default 3 */
  maximumAttempts?: number;
  /** Wait before the second attempt. @default 1000 */
  initialIntervalMs?: number;
  /** Each wait is the previous one times this. @default 2 */
  backoffCoefficient?: number;
  /** Cap of one wait. @default 100 × initialIntervalMs */
  maximumIntervalMs?: number;
  /** `Error.name`s that are never retried (e.g. a definition error no retry can fix). */
  nonRetryableErrorTypes?: string[];
}

/** What an activity receives besides its argument. */
export interface ActivityRunInfo {
  workflowId: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** Aborts on timeout or cancellation of the workflow. */
  signal: AbortSignal;
}

export type ActivityFunction<Args = never, Result = unknown> = (
  args: Args,
  info: ActivityRunInfo,
) => Promise<Result>;

/** The only way workflow code touches the world. Every `key` is unique within one run. */
export interface WorkflowContext {
  readonly workflowId: string;
  /** Runs an activity (recorded: on replay its first outcome is returned, it does not run again). */
  activity<Result>(key: string, name: string, args: unknown, options: ActivityOptions): Promise<Result>;
  /**
   * Waits for the signal `name` (delivered with `WorkflowEngine.signal`), at most `timeoutMs`
   * (a durable timer: it survives restarts). Resolves `undefined` on timeout.
   */
  waitForSignal<Payload>(key: string, name: string, timeoutMs?: number): Promise<Payload | undefined>;
  /** A durable timer. */
  sleep(key: string, ms: number): Promise<void>;
  /** Runs `work` so that a cancellation of the workflow does not interrupt it (clean-up). */
  nonCancellable<T>(work: () => Promise<T>): Promise<T>;
  /** True for the error a cancelled workflow sees from its pending context calls. */
  isCancellation(error: unknown): boolean;
}

export type WorkflowFunction<Input = never, Output = unknown> = (
  ctx: WorkflowContext,
  input: Input,
) => Promise<Output>;

export type WorkflowStatus = 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'TERMINATED' | 'TIMED_OUT';

export interface WorkflowDescription {
  workflowId: string;
  workflowType: string;
  status: WorkflowStatus;
}

/** Raised by adapters with stable codes. */
export class WorkflowEngineError extends Error {
  constructor(
    readonly code:
      | 'ERR_WORKFLOW_ALREADY_STARTED'
      | 'ERR_WORKFLOW_NOT_FOUND'
      | 'ERR_WORKFLOW_FAILED'
      | 'ERR_WORKFLOW_CANCELLED'
      | 'ERR_WORKFLOW_NOT_RUNNING',
    message: string,
  ) {
    super(message);
    this.name = 'WorkflowEngineError';
  }
}

/** The client side: what the capsules service uses. Workers (which execute) are adapter-specific. */
export interface WorkflowEngine extends AsyncDisposable {
  /** `temporal`, `journal` */
  readonly kind: string;
  /** Starts `workflowType` with `input`; ERR_WORKFLOW_ALREADY_STARTED when the id is taken. */
  start(workflowType: string, workflowId: string, input: unknown): Promise<void>;
  /** Delivers a signal to a running workflow; ERR_WORKFLOW_NOT_RUNNING otherwise. */
  signal(workflowId: string, name: string, payload: unknown): Promise<void>;
  /** Requests cancellation: pending activities are aborted, clean-up code still runs. */
  cancel(workflowId: string): Promise<void>;
  /** Waits for the outcome: the output, or ERR_WORKFLOW_FAILED / ERR_WORKFLOW_CANCELLED. */
  result<Output>(workflowId: string): Promise<Output>;
  describe(workflowId: string): Promise<WorkflowDescription>;
}
