// Workflow code: bundled by the Worker (webpack) and run in its deterministic sandbox, so no
// Node built-ins here and activities are imported as types only.
import { condition, defineQuery, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type { Activities } from './activities';

const { greet, flaky } = proxyActivities<Activities>({
  startToCloseTimeout: '10 seconds',
  // Short interval: the retry test should not wait Temporal's default second.
  retry: { initialInterval: '100 milliseconds', maximumAttempts: 3 },
});

export const approveSignal = defineSignal<[string]>('approve');
export const statusQuery = defineQuery<string>('status');

/** One activity, its result returned. */
export async function greetingWorkflow(name: string): Promise<string> {
  return greet(name);
}

/** An activity that fails once; the server retries it. */
export async function retryingWorkflow(label: string): Promise<string> {
  return flaky(label);
}

/** Waits for an `approve` signal, answering `status` queries meanwhile, then runs an activity. */
export async function approvalWorkflow(name: string): Promise<{ approvedBy: string; greeting: string }> {
  let status = 'waiting for approval';
  let approvedBy: string | undefined;
  setHandler(statusQuery, () => status);
  setHandler(approveSignal, (who) => {
    approvedBy = who;
  });
  await condition(() => approvedBy !== undefined);
  status = 'approved';
  const greeting = await greet(name);
  status = 'done';
  return { approvedBy: approvedBy as string, greeting };
}
