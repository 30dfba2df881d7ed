/**
 * The Temporal side of `WorkflowContext`: turns a workflow function written against the port
 * into a Temporal workflow. This file is bundled into the workflow sandbox, so it imports only
 * `@temporalio/workflow` and types.
 */
import type { ActivityOptions, WorkflowContext, WorkflowFunction } from '@somaagent/ports';
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  defineSignal,
  isCancellation,
  proxyActivities,
  setHandler,
  sleep,
  TemporalFailure,
  workflowInfo,
} from '@temporalio/workflow';

/** Every port-level signal travels as this one Temporal signal, named inside its payload. */
export const SOMA_SIGNAL = 'soma.signal';
export const somaSignal = defineSignal<[{ name: string; payload: unknown }]>(SOMA_SIGNAL);

/** Activities heartbeat every 500 ms (see toTemporalActivities): a dead worker is noticed after this. */
const HEARTBEAT_TIMEOUT_MS = 3_000;

export function createTemporalWorkflow<Input, Output>(fn: WorkflowFunction<Input, Output>) {
  return async (input: Input): Promise<Output> => {
    const inbox = new Map<string, unknown[]>();
    setHandler(somaSignal, ({ name, payload }) => {
      const queue = inbox.get(name) ?? [];
      queue.push(payload);
      inbox.set(name, queue);
    });
    const pending = (name: string) => (inbox.get(name)?.length ?? 0) > 0;
    const ctx: WorkflowContext = {
      workflowId: workflowInfo().workflowId,
      activity<Result>(key: string, name: string, args: unknown, options: ActivityOptions) {
        const retry = options.retry ?? {};
        const activities = proxyActivities<Record<string, (args: unknown) => Promise<Result>>>({
          activityId: key,
          startToCloseTimeout: options.startToCloseTimeoutMs,
          heartbeatTimeout: Math.min(HEARTBEAT_TIMEOUT_MS, options.startToCloseTimeoutMs),
          retry: {
            maximumAttempts: retry.maximumAttempts ?? 3,
            initialInterval: retry.initialIntervalMs ?? 1000,
            backoffCoefficient: retry.backoffCoefficient ?? 2,
            maximumInterval: retry.maximumIntervalMs ?? (retry.initialIntervalMs ?? 1000) * 100,
            nonRetryableErrorTypes: retry.nonRetryableErrorTypes ?? [],
          },
        });
        return activities[name]!(args);
      },
      async waitForSignal<Payload>(_key: string, name: string, timeoutMs?: number) {
        if (timeoutMs === undefined) await condition(() => pending(name));
        else if (!(await condition(() => pending(name), timeoutMs))) return undefined;
        return inbox.get(name)!.shift() as Payload;
      },
      sleep: (_key, ms) => sleep(ms),
      nonCancellable: (work) => CancellationScope.nonCancellable(work),
      isCancellation,
    };
    try {
      return await fn(ctx, input);
    } catch (error) {
      // A plain Error thrown by workflow code would fail only the workflow task (retried
      // forever); the port's contract is that the workflow fails with its message.
      if (isCancellation(error) || error instanceof TemporalFailure || !(error instanceof Error)) throw error;
      throw ApplicationFailure.nonRetryable(error.message, error.name);
    }
  };
}
