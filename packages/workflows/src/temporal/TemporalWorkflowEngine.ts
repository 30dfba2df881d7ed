import type { WorkflowDescription, WorkflowEngine, WorkflowStatus } from '@somaagent/ports';
import { WorkflowEngineError } from '@somaagent/ports';
import {
  CancelledFailure,
  type Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { SOMA_SIGNAL } from './createTemporalWorkflow';

export interface TemporalWorkflowEngineOptions {
  /** Task queue the workers poll. */
  taskQueue: string;
  /**
   * Bound on a whole execution, so an abandoned one does not live forever.
   * @default undefined (none)
   */
  workflowExecutionTimeoutMs?: number;
}

const STATUS: Record<string, WorkflowStatus> = {
  RUNNING: 'RUNNING',
  COMPLETED: 'COMPLETED',
  FAILED: 'FAILED',
  CANCELLED: 'CANCELLED',
  TERMINATED: 'TERMINATED',
  TIMED_OUT: 'TIMED_OUT',
  CONTINUED_AS_NEW: 'RUNNING',
};

/** The deepest message of a Temporal failure chain: what the activity or workflow said. */
function rootMessage(error: Error): string {
  let current: Error = error;
  while (current.cause instanceof Error) current = current.cause;
  return current.message;
}

/**
 * `WorkflowEngine` on a Temporal cluster through `@temporalio/client` (receives a built Client).
 * Workers are separate: `createTemporalWorker` in this package.
 */
export class TemporalWorkflowEngine implements WorkflowEngine {
  readonly kind = 'temporal';
  constructor(
    private readonly client: Client,
    private readonly options: TemporalWorkflowEngineOptions,
  ) {}

  async start(workflowType: string, workflowId: string, input: unknown): Promise<void> {
    try {
      await this.client.workflow.start(workflowType, {
        taskQueue: this.options.taskQueue,
        workflowId,
        args: [input],
        ...(this.options.workflowExecutionTimeoutMs
          ? { workflowExecutionTimeout: this.options.workflowExecutionTimeoutMs }
          : {}),
      });
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) {
        throw new WorkflowEngineError(
          'ERR_WORKFLOW_ALREADY_STARTED',
          `workflow ${workflowId} already exists`,
        );
      }
      throw error;
    }
  }

  async signal(workflowId: string, name: string, payload: unknown): Promise<void> {
    try {
      await this.client.workflow.getHandle(workflowId).signal(SOMA_SIGNAL, { name, payload });
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) {
        throw new WorkflowEngineError('ERR_WORKFLOW_NOT_RUNNING', `workflow ${workflowId} is not running`);
      }
      throw error;
    }
  }

  async cancel(workflowId: string): Promise<void> {
    try {
      await this.client.workflow.getHandle(workflowId).cancel();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) {
        throw new WorkflowEngineError('ERR_WORKFLOW_NOT_FOUND', `no workflow ${workflowId}`);
      }
      throw error;
    }
  }

  async result<Output>(workflowId: string): Promise<Output> {
    try {
      return (await this.client.workflow.getHandle(workflowId).result()) as Output;
    } catch (error) {
      if (error instanceof WorkflowFailedError) {
        if (error.cause instanceof CancelledFailure) {
          throw new WorkflowEngineError('ERR_WORKFLOW_CANCELLED', `workflow ${workflowId} was cancelled`);
        }
        throw new WorkflowEngineError('ERR_WORKFLOW_FAILED', rootMessage(error));
      }
      if (error instanceof WorkflowNotFoundError) {
        throw new WorkflowEngineError('ERR_WORKFLOW_NOT_FOUND', `no workflow ${workflowId}`);
      }
      throw error;
    }
  }

  async describe(workflowId: string): Promise<WorkflowDescription> {
    try {
      const d = await this.client.workflow.getHandle(workflowId).describe();
      return { workflowId, workflowType: d.type, status: STATUS[d.status.name] ?? 'RUNNING' };
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) {
        throw new WorkflowEngineError('ERR_WORKFLOW_NOT_FOUND', `no workflow ${workflowId}`);
      }
      throw error;
    }
  }

  /** The Client belongs to the caller. */
  async [Symbol.asyncDispose](): Promise<void> {}
}
