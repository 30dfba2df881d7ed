import type {
  ActivityFunction,
  ActivityOptions,
  SqlDatabase,
  SqlExecutor,
  WorkflowContext,
  WorkflowDescription,
  WorkflowEngine,
  WorkflowFunction,
  WorkflowStatus,
} from '@somaagent/ports';
import { WorkflowEngineError } from '@somaagent/ports';

/** Thrown into workflow code by context calls once its workflow is cancelled. */
export class WorkflowCancelledError extends Error {
  override name = 'WorkflowCancelledError';
}

/** What workflow code sees when an activity failed on its last attempt (`cause` is the activity's error). */
export class ActivityFailedError extends Error {
  override name = 'ActivityFailedError';
  constructor(
    readonly activity: string,
    override readonly cause: { name: string; message: string },
  ) {
    super(`activity ${activity} failed: ${cause.message}`);
  }
}

class ActivityTimeoutError extends Error {
  override name = 'ActivityTimeoutError';
}

type Outcome = { ok: unknown } | { error: { name: string; message: string } } | { deadline: number };

export interface JournalWorkflowEngineOptions {
  /** Workflow functions by type name (the same names the Temporal worker exports). */
  workflows: Record<string, WorkflowFunction<never, unknown>>;
  activities: Record<string, ActivityFunction<never, unknown>>;
  /**
   * How often a worker looks for new executions, signals and cancellations written by other
   * processes (calls on this instance wake it at once).
   * @default 100
   */
  pollMs?: number;
  /**
   * The tenant an execution belongs to, from its type and input. Every row of the engine is
   * stored under that tenant's row-level security scope (migration 002_tenant_scope), so
   * request-path SQL of another tenant cannot read it. Must return a tenant UUID.
   * @default the input's `tenantId` (what capsule runs carry)
   */
  tenantOf?: (workflowType: string, input: unknown) => string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const inputTenant = (_type: string, input: unknown): string => {
  const tenantId = (input as { tenantId?: unknown } | null)?.tenantId;
  return typeof tenantId === 'string' ? tenantId : '';
};

/** How many workflow id → tenant answers are kept (a tenant of an id never changes). */
const TENANT_CACHE_SIZE = 10_000;

interface Execution {
  id: string;
  tenantId: string;
  cancelled: boolean;
  abort: AbortController;
  nonCancellableDepth: number;
  done: Promise<void>;
}

const TERMINAL: WorkflowStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT'];

/**
 * The embedded durable-workflow engine: a step journal in PostgreSQL (PGlite or a server),
 * replayed on restart. Workflow functions are the same ones the Temporal worker runs.
 *
 * Every row is stored under its execution's tenant (FORCE row-level security, `tenantOf`); the
 * worker learns other tenants' executions only from `workflows.running_executions()`.
 *
 * Guarantees: an execution started is driven to completion by `startWorker()` in this or a
 * later process (one worker per database at a time); an activity whose outcome is journaled
 * never runs again; one that was in flight at a crash runs again (at least once, as in Temporal).
 *
 * @example
 * const engine = new JournalWorkflowEngine(db, { workflows: { capsuleRun }, activities });
 * engine.startWorker();
 * await engine.start('capsuleRun', runId, input);
 */
export class JournalWorkflowEngine implements WorkflowEngine {
  readonly kind = 'journal';
  private readonly pollMs: number;
  private readonly executions = new Map<string, Execution>();
  private readonly wakers = new Set<() => void>();
  private readonly tenants = new Map<string, string>();
  private worker: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly db: SqlDatabase,
    private readonly options: JournalWorkflowEngineOptions,
  ) {
    this.pollMs = options.pollMs ?? 100;
  }

  /** A transaction in `tenantId`'s scope; `null` reaches only the definer functions. */
  private tx<T>(tenantId: string | null, work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.db.withScope({ tenantId }, work);
  }

  /** The tenant that owns `workflowId` (through the definer function), or ERR_WORKFLOW_NOT_FOUND. */
  private async ownerOf(workflowId: string): Promise<string> {
    const cached = this.tenants.get(workflowId);
    if (cached) return cached;
    const { rows } = await this.tx(null, (tx) =>
      tx.query<{ tenant_id: string | null }>('SELECT workflows.execution_tenant($1) AS tenant_id', [
        workflowId,
      ]),
    );
    const tenantId = rows[0]?.tenant_id;
    if (!tenantId) throw new WorkflowEngineError('ERR_WORKFLOW_NOT_FOUND', `no workflow ${workflowId}`);
    this.remember(workflowId, tenantId);
    return tenantId;
  }

  private remember(workflowId: string, tenantId: string): void {
    if (this.tenants.size >= TENANT_CACHE_SIZE) this.tenants.clear();
    this.tenants.set(workflowId, tenantId);
  }

  private wake(): void {
    for (const w of [...this.wakers]) w();
  }

  /** Resolves after `ms`, or earlier when something on this instance changed. */
  private nap(ms = this.pollMs): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  async start(workflowType: string, workflowId: string, input: unknown): Promise<void> {
    if (!this.options.workflows[workflowType]) {
      throw new Error(`workflow type ${workflowType} is not registered with this engine`);
    }
    const tenantId = (this.options.tenantOf ?? inputTenant)(workflowType, input);
    if (!UUID.test(tenantId)) {
      throw new Error(
        `workflow ${workflowId} has no tenant: the journal engine stores every execution under its tenant's row-level security (input.tenantId, or the tenantOf option)`,
      );
    }
    const { rowCount } = await this.tx(tenantId, (tx) =>
      tx.query(
        `INSERT INTO workflows.executions (workflow_id, tenant_id, workflow_type, input) VALUES ($1, $2, $3, $4)
         ON CONFLICT (workflow_id) DO NOTHING`,
        [workflowId, tenantId, workflowType, JSON.stringify(input ?? null)],
      ),
    );
    if (rowCount === 0) {
      throw new WorkflowEngineError('ERR_WORKFLOW_ALREADY_STARTED', `workflow ${workflowId} already exists`);
    }
    this.wake();
  }

  async signal(workflowId: string, name: string, payload: unknown): Promise<void> {
    const tenantId = await this.ownerOf(workflowId);
    await this.tx(tenantId, async (tx) => {
      const { rows } = await tx.query<{ status: string }>(
        'SELECT status FROM workflows.executions WHERE workflow_id = $1 FOR UPDATE',
        [workflowId],
      );
      if (!rows[0]) throw new WorkflowEngineError('ERR_WORKFLOW_NOT_FOUND', `no workflow ${workflowId}`);
      if (rows[0].status !== 'RUNNING') {
        throw new WorkflowEngineError(
          'ERR_WORKFLOW_NOT_RUNNING',
          `workflow ${workflowId} is ${rows[0].status}`,
        );
      }
      await tx.query(
        'INSERT INTO workflows.signals (workflow_id, tenant_id, name, payload) VALUES ($1, $2, $3, $4)',
        [workflowId, tenantId, name, JSON.stringify(payload ?? null)],
      );
    });
    this.wake();
  }

  async cancel(workflowId: string): Promise<void> {
    const tenantId = await this.ownerOf(workflowId);
    const { rows } = await this.tx(tenantId, (tx) =>
      tx.query<{ status: string }>(
        `UPDATE workflows.executions SET cancel_requested = true, updated_at = clock_timestamp()
          WHERE workflow_id = $1 RETURNING status`,
        [workflowId],
      ),
    );
    if (!rows[0]) throw new WorkflowEngineError('ERR_WORKFLOW_NOT_FOUND', `no workflow ${workflowId}`);
    const running = this.executions.get(workflowId);
    if (running) this.cancelLocal(running);
    this.wake();
  }

  async describe(workflowId: string): Promise<WorkflowDescription> {
    const tenantId = await this.ownerOf(workflowId);
    const { rows } = await this.tx(tenantId, (tx) =>
      tx.query<{ workflow_type: string; status: WorkflowStatus }>(
        'SELECT workflow_type, status FROM workflows.executions WHERE workflow_id = $1',
        [workflowId],
      ),
    );
    if (!rows[0]) throw new WorkflowEngineError('ERR_WORKFLOW_NOT_FOUND', `no workflow ${workflowId}`);
    return { workflowId, workflowType: rows[0].workflow_type, status: rows[0].status };
  }

  async result<Output>(workflowId: string): Promise<Output> {
    const tenantId = await this.ownerOf(workflowId);
    for (;;) {
      const { rows } = await this.tx(tenantId, (tx) =>
        tx.query<{ status: WorkflowStatus; output: unknown; error: string | null }>(
          'SELECT status, output, error FROM workflows.executions WHERE workflow_id = $1',
          [workflowId],
        ),
      );
      const row = rows[0];
      if (!row) throw new WorkflowEngineError('ERR_WORKFLOW_NOT_FOUND', `no workflow ${workflowId}`);
      if (row.status === 'COMPLETED') return row.output as Output;
      if (row.status === 'CANCELLED') {
        throw new WorkflowEngineError('ERR_WORKFLOW_CANCELLED', `workflow ${workflowId} was cancelled`);
      }
      if (TERMINAL.includes(row.status)) {
        throw new WorkflowEngineError(
          'ERR_WORKFLOW_FAILED',
          row.error ?? `workflow ${workflowId} ${row.status}`,
        );
      }
      if (this.stopped) throw new Error('engine disposed while waiting for a result');
      await this.nap();
    }
  }

  /**
   * Executes workflows: resumes every RUNNING execution (replaying its journal), then picks up
   * new ones and cancellations as they are written. Idempotent.
   */
  startWorker(): this {
    this.worker ??= this.poll();
    return this;
  }

  private async poll(): Promise<void> {
    while (!this.stopped) {
      try {
        // Across tenants only through the definer function: ids, tenants and cancel flags.
        const { rows } = await this.tx(null, (tx) =>
          tx.query<{ workflow_id: string; tenant_id: string; cancel_requested: boolean }>(
            'SELECT workflow_id, tenant_id, cancel_requested FROM workflows.running_executions()',
          ),
        );
        for (const row of rows) {
          const known = this.executions.get(row.workflow_id);
          if (!known) this.launch(row.workflow_id, row.tenant_id, row.cancel_requested);
          else if (row.cancel_requested && !known.cancelled) this.cancelLocal(known);
        }
      } catch (error) {
        if (this.stopped) return;
        console.error('[workflows] journal poll failed', error);
      }
      await this.nap();
    }
  }

  private cancelLocal(execution: Execution): void {
    execution.cancelled = true;
    execution.abort.abort(new WorkflowCancelledError('workflow cancelled'));
    this.wake();
  }

  private launch(workflowId: string, tenantId: string, cancelled: boolean): void {
    this.remember(workflowId, tenantId);
    const execution: Execution = {
      id: workflowId,
      tenantId,
      cancelled,
      abort: new AbortController(),
      nonCancellableDepth: 0,
      done: Promise.resolve(),
    };
    if (cancelled) execution.abort.abort(new WorkflowCancelledError('workflow cancelled'));
    this.executions.set(workflowId, execution);
    execution.done = this.run(execution).finally(() => this.executions.delete(workflowId));
  }

  private async run(execution: Execution): Promise<void> {
    const { rows } = await this.tx(execution.tenantId, (tx) =>
      tx.query<{ workflow_type: string; input: unknown }>(
        'SELECT workflow_type, input FROM workflows.executions WHERE workflow_id = $1',
        [execution.id],
      ),
    );
    const row = rows[0];
    if (!row) return;
    const fn = this.options.workflows[row.workflow_type] as WorkflowFunction<unknown, unknown> | undefined;
    let status: WorkflowStatus;
    let output: unknown = null;
    let error: string | null = null;
    try {
      if (!fn) throw new Error(`workflow type ${row.workflow_type} is not registered with this worker`);
      output = await fn(this.context(execution), row.input);
      status = 'COMPLETED';
    } catch (e) {
      if (this.stopped) return; // a disposed worker leaves the execution RUNNING for the next one
      status = e instanceof WorkflowCancelledError ? 'CANCELLED' : 'FAILED';
      error = e instanceof Error ? e.message : String(e);
    }
    await this.tx(execution.tenantId, (tx) =>
      tx.query(
        `UPDATE workflows.executions SET status = $2, output = $3, error = $4, updated_at = clock_timestamp()
          WHERE workflow_id = $1 AND status = 'RUNNING'`,
        [execution.id, status, JSON.stringify(output ?? null), error],
      ),
    );
    this.wake();
  }

  private async recorded(execution: Execution, key: string): Promise<Outcome | undefined> {
    const { rows } = await this.tx(execution.tenantId, (tx) =>
      tx.query<{ outcome: Outcome }>(
        'SELECT outcome FROM workflows.journal WHERE workflow_id = $1 AND key = $2',
        [execution.id, key],
      ),
    );
    return rows[0]?.outcome;
  }

  private record(execution: Execution, key: string, outcome: Outcome): Promise<unknown> {
    return this.tx(execution.tenantId, (tx) =>
      tx.query(
        `INSERT INTO workflows.journal (workflow_id, tenant_id, key, outcome) VALUES ($1, $2, $3, $4)
         ON CONFLICT (workflow_id, key) DO NOTHING`,
        [execution.id, execution.tenantId, key, JSON.stringify(outcome)],
      ),
    );
  }

  private checkCancelled(execution: Execution): void {
    if (this.stopped) throw new Error('engine disposed');
    if (execution.cancelled && execution.nonCancellableDepth === 0) {
      throw new WorkflowCancelledError('workflow cancelled');
    }
  }

  /** A durable deadline: recorded the first time, the same after a restart. */
  private async deadline(execution: Execution, key: string, ms: number): Promise<number> {
    const known = await this.recorded(execution, key);
    if (known && 'deadline' in known) return known.deadline;
    const deadline = Date.now() + ms;
    await this.record(execution, key, { deadline });
    return ((await this.recorded(execution, key)) as { deadline: number }).deadline ?? deadline;
  }

  private context(execution: Execution): WorkflowContext {
    const engine = this;
    return {
      workflowId: execution.id,
      async activity<Result>(key: string, name: string, args: unknown, options: ActivityOptions) {
        // Back to the event loop between steps: on PGlite every query settles through promises
        // only, so a run of quick steps would otherwise chain microtasks and starve socket I/O
        // (subscribers saw 1 event while 50 steps were committed, in tests/e2e/embeddedCrash).
        await new Promise((resolve) => setImmediate(resolve));
        const known = await engine.recorded(execution, key);
        if (known && 'ok' in known) return known.ok as Result;
        if (known && 'error' in known) throw new ActivityFailedError(name, known.error);
        engine.checkCancelled(execution);
        const fn = engine.options.activities[name] as ActivityFunction<unknown, unknown> | undefined;
        if (!fn) throw new ActivityFailedError(name, { name: 'Error', message: `no activity ${name}` });
        const retry = options.retry ?? {};
        const maximumAttempts = retry.maximumAttempts ?? 3;
        const initial = retry.initialIntervalMs ?? 1000;
        const maximumInterval = retry.maximumIntervalMs ?? initial * 100;
        for (let attempt = 1; ; attempt++) {
          const attemptAbort = new AbortController();
          const cancellable = execution.nonCancellableDepth === 0;
          const onCancel = () => attemptAbort.abort(new WorkflowCancelledError('workflow cancelled'));
          if (cancellable) execution.abort.signal.addEventListener('abort', onCancel, { once: true });
          const timer = setTimeout(
            () =>
              attemptAbort.abort(
                new ActivityTimeoutError(
                  `activity ${name} timed out after ${options.startToCloseTimeoutMs} ms (start-to-close)`,
                ),
              ),
            options.startToCloseTimeoutMs,
          );
          try {
            const aborted = new Promise<never>((_, reject) =>
              attemptAbort.signal.addEventListener('abort', () => reject(attemptAbort.signal.reason), {
                once: true,
              }),
            );
            const result = await Promise.race([
              fn(args, { workflowId: execution.id, attempt, signal: attemptAbort.signal }),
              aborted,
            ]);
            await engine.record(execution, key, { ok: result ?? null });
            return result as Result;
          } catch (error) {
            if (error instanceof WorkflowCancelledError || (cancellable && execution.cancelled)) {
              throw new WorkflowCancelledError('workflow cancelled');
            }
            if (engine.stopped) throw error;
            const failure = {
              name: error instanceof Error ? error.name : 'Error',
              message: error instanceof Error ? error.message : String(error),
            };
            if (attempt >= maximumAttempts || retry.nonRetryableErrorTypes?.includes(failure.name)) {
              await engine.record(execution, key, { error: failure });
              throw new ActivityFailedError(name, failure);
            }
          } finally {
            clearTimeout(timer);
            execution.abort.signal.removeEventListener('abort', onCancel);
          }
          const wait = Math.min(initial * (retry.backoffCoefficient ?? 2) ** (attempt - 1), maximumInterval);
          const until = Date.now() + wait;
          while (Date.now() < until) {
            engine.checkCancelled(execution);
            await engine.nap(Math.min(until - Date.now(), engine.pollMs));
          }
        }
      },
      async waitForSignal<Payload>(key: string, name: string, timeoutMs?: number) {
        const known = await engine.recorded(execution, key);
        if (known && 'ok' in known) return (known.ok ?? undefined) as Payload | undefined;
        const deadline =
          timeoutMs === undefined
            ? Number.POSITIVE_INFINITY
            : await engine.deadline(execution, `${key}#deadline`, timeoutMs);
        for (;;) {
          engine.checkCancelled(execution);
          const taken = await engine.tx(execution.tenantId, async (tx) => {
            const { rows } = await tx.query<{ id: string; payload: unknown }>(
              `UPDATE workflows.signals SET consumed = true
                WHERE id = (SELECT id FROM workflows.signals WHERE workflow_id = $1 AND name = $2 AND NOT consumed
                             ORDER BY id LIMIT 1 FOR UPDATE)
                RETURNING id, payload`,
              [execution.id, name],
            );
            if (!rows[0]) return undefined;
            await tx.query(
              'INSERT INTO workflows.journal (workflow_id, tenant_id, key, outcome) VALUES ($1, $2, $3, $4)',
              [execution.id, execution.tenantId, key, JSON.stringify({ ok: rows[0].payload })],
            );
            return { payload: rows[0].payload };
          });
          if (taken) return taken.payload as Payload;
          if (Date.now() >= deadline) {
            await engine.record(execution, key, { ok: null });
            return undefined;
          }
          await engine.nap(Math.min(deadline - Date.now(), engine.pollMs));
        }
      },
      async sleep(key: string, ms: number) {
        const deadline = await engine.deadline(execution, key, ms);
        while (Date.now() < deadline) {
          engine.checkCancelled(execution);
          await engine.nap(Math.min(deadline - Date.now(), engine.pollMs));
        }
      },
      async nonCancellable<T>(work: () => Promise<T>) {
        execution.nonCancellableDepth++;
        try {
          return await work();
        } finally {
          execution.nonCancellableDepth--;
        }
      },
      isCancellation: (error) => error instanceof WorkflowCancelledError,
    };
  }

  /** Stops the worker; executions it was driving stay RUNNING and resume in the next worker. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.stopped = true;
    for (const execution of this.executions.values()) execution.abort.abort(new Error('engine disposed'));
    this.wake();
    await this.worker;
    await Promise.allSettled([...this.executions.values()].map((e) => e.done));
  }
}
