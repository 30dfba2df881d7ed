import type { ActivityFunction } from '@somaagent/ports';
import { Context } from '@temporalio/activity';
import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';

/**
 * Port activities (`(args, info) => result`) as Temporal activities: attempt and cancellation
 * signal from the activity Context, and a heartbeat every 500 ms so that cancellation reaches a
 * running activity and a killed worker is noticed within the heartbeat timeout.
 */
export function toTemporalActivities(
  activities: Record<string, ActivityFunction<never, unknown>>,
): Record<string, (args: unknown) => Promise<unknown>> {
  return Object.fromEntries(
    Object.entries(activities).map(([name, fn]) => [
      name,
      async (args: unknown) => {
        const ctx = Context.current();
        const beat = setInterval(() => ctx.heartbeat(), 500);
        try {
          return await (fn as ActivityFunction<unknown, unknown>)(args, {
            workflowId: ctx.info.workflowExecution?.workflowId ?? ctx.info.activityId,
            attempt: ctx.info.attempt,
            signal: ctx.cancellationSignal,
          });
        } finally {
          clearInterval(beat);
        }
      },
    ]),
  );
}

export interface TemporalWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: Record<string, ActivityFunction<never, unknown>>;
  /** A file exporting `createTemporalWorkflow(...)` results, bundled at start-up (slow)… */
  workflowsPath?: string;
  /** …or a bundle prepared once with `bundleWorkflowCode` (fast start, used by tests and benches). */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** @default undefined (Temporal's default) */
  maxConcurrentActivityTaskExecutions?: number;
}

/** A Temporal Worker running the port's workflows and activities. */
export function createTemporalWorker(options: TemporalWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: toTemporalActivities(options.activities),
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : {}),
    ...(options.workflowsPath ? { workflowsPath: options.workflowsPath } : {}),
    // A killed worker's sticky cache would hold its workflow tasks for 10 s; 2 s re-dispatches sooner.
    stickyQueueScheduleToStartTimeout: '2s',
    ...(options.maxConcurrentActivityTaskExecutions
      ? { maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions }
      : {}),
  });
}
