import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from './temporal/activities';
import {
  approvalWorkflow,
  approveSignal,
  greetingWorkflow,
  retryingWorkflow,
  statusQuery,
} from './temporal/workflows';

/**
 * The harness Temporal dev server runs workflows the way SomaAgent's workers will: a Worker
 * (`@temporalio/worker`, workflows bundled from source, real activities in this process) polls a
 * task queue; `@temporalio/client` starts, signals, queries and awaits workflows.
 */
const temporal = inject('temporal');
const taskQueue = `soma-contract-${randomUUID()}`;
const greeted: string[] = [];

let nativeConnection: NativeConnection | undefined;
let connection: Connection | undefined;
let worker: Worker | undefined;
let running: Promise<void> | undefined;
let client: Client;

beforeAll(async () => {
  // The worker logs every state change at INFO; warnings (e.g. the flaky activity's failed first attempt) are enough.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  nativeConnection = await NativeConnection.connect({ address: temporal.address });
  worker = await Worker.create({
    connection: nativeConnection,
    namespace: temporal.namespace,
    taskQueue,
    // Bundled with webpack at start-up: tens of seconds on 2 cores.
    workflowsPath: fileURLToPath(new URL('./temporal/workflows.ts', import.meta.url)),
    activities: createActivities({ greeted }),
  });
  running = worker.run();
  connection = await Connection.connect({ address: temporal.address });
  client = new Client({ connection, namespace: temporal.namespace });
}, 120_000);

afterAll(async () => {
  if (worker && worker.getState() === 'RUNNING') worker.shutdown();
  await running;
  await nativeConnection?.close();
  await connection?.close();
});

/** Start options: this run's task queue, a unique id, and a bound on how long a stuck test waits. */
const options = (prefix: string) => ({
  taskQueue,
  workflowId: `${prefix}-${randomUUID()}`,
  workflowExecutionTimeout: '1 minute',
});

describe('Temporal dev server (temporal CLI) with @temporalio/client + @temporalio/worker', () => {
  it('listens on 127.0.0.1 in the namespace it announces', async () => {
    expect(temporal.address).toMatch(/^127\.0\.0\.1:\d+$/);
    const { namespaceInfo } = await connection!.workflowService.describeNamespace({
      namespace: temporal.namespace,
    });
    expect(namespaceInfo?.name).toBe(temporal.namespace);
  });

  it('completes a workflow whose activity runs in this process, with the history to prove it', async () => {
    const handle = await client.workflow.start(greetingWorkflow, { ...options('greeting'), args: ['Soma'] });
    expect(await handle.result()).toBe('Hello, Soma!');
    expect(greeted).toContain('Soma');
    const description = await handle.describe();
    expect(description.status.name).toBe('COMPLETED');
    expect(description.taskQueue).toBe(taskQueue);
    const history = await handle.fetchHistory();
    const completed = history.events?.filter((e) => e.activityTaskCompletedEventAttributes) ?? [];
    expect(completed).toHaveLength(1);
  });

  it('retries a failed activity by the server retry policy', async () => {
    const handle = await client.workflow.start(retryingWorkflow, {
      ...options('retrying'),
      args: ['flaky step'],
    });
    expect(await handle.result()).toBe('flaky step succeeded on attempt 2');
  });

  it('answers queries and takes signals while a workflow waits', async () => {
    const handle = await client.workflow.start(approvalWorkflow, {
      ...options('approval'),
      args: ['reviewer'],
    });
    expect(await handle.query(statusQuery)).toBe('waiting for approval');
    await handle.signal(approveSignal, 'alice');
    expect(await handle.result()).toEqual({ approvedBy: 'alice', greeting: 'Hello, reviewer!' });
    // A completed workflow still answers queries (replayed by the worker from its history).
    expect(await handle.query(statusQuery)).toBe('done');
    const history = await handle.fetchHistory();
    const signals = history.events?.filter((e) => e.workflowExecutionSignaledEventAttributes) ?? [];
    expect(signals.map((e) => e.workflowExecutionSignaledEventAttributes?.signalName)).toEqual(['approve']);
  });

  it('refuses a second workflow with the id of a running one', async () => {
    const once = { ...options('approval'), args: ['x'] as [string] };
    const first = await client.workflow.start(approvalWorkflow, once);
    await expect(client.workflow.start(approvalWorkflow, once)).rejects.toThrow(/already started/i);
    await first.terminate('contract test cleanup');
    expect((await first.describe()).status.name).toBe('TERMINATED');
  });
});
