/**
 * The capsule-run workflow, written once against the WorkflowEngine port's `WorkflowContext` and
 * run unchanged by Temporal (workflows.ts) and by the embedded JournalWorkflowEngine.
 * Deterministic: no clock, randomness or I/O here; every effect is an activity (activities.ts,
 * imported as a type only) with a key unique in the run, so replays line up.
 */
import {
  type ApprovalDecision,
  approvalSignal,
  type CapsuleRunInput,
  type CapsuleStep,
  type Condition,
} from '@somaagent/capsule-contract';
import type { ActivityOptions, WorkflowContext } from '@somaagent/ports';
import type { StepGate } from './ActivitiesDeps';
import type { CapsuleActivities } from './activities';
import { lookup, render, type TemplateScope } from './template';

/** Thrown for a step that cannot go on (rejected approval, approval timeout, missing sub-capsule). */
class StepFailure extends Error {
  override name = 'StepFailure';
}

const BOOKKEEPING: ActivityOptions = {
  startToCloseTimeoutMs: 10_000,
  retry: { maximumAttempts: 10, initialIntervalMs: 200, backoffCoefficient: 2, maximumIntervalMs: 5_000 },
};

const DEFAULT_STEP_TIMEOUT_MS = 60_000;

type Activity = <K extends keyof CapsuleActivities>(
  key: string,
  name: K,
  args: Parameters<CapsuleActivities[K]>[0],
  options: ActivityOptions,
) => ReturnType<CapsuleActivities[K]>;

function holds(condition: Condition, scope: TemplateScope): boolean {
  const value = lookup(scope, condition.path);
  if (condition.exists !== undefined && (value !== undefined && value !== null) !== condition.exists)
    return false;
  if ('equals' in condition && JSON.stringify(value) !== JSON.stringify(condition.equals)) return false;
  if ('notEquals' in condition && JSON.stringify(value) === JSON.stringify(condition.notEquals)) return false;
  return true;
}

/** The innermost message of an activity failure (Temporal wraps it in ActivityFailure → ApplicationFailure). */
function messageOf(error: unknown): string {
  let current = error as { message?: string; cause?: unknown } | undefined;
  while (current?.cause && typeof current.cause === 'object') current = current.cause as typeof current;
  return current?.message ?? String(error);
}

export async function capsuleRunWorkflow(ctx: WorkflowContext, input: CapsuleRunInput): Promise<unknown> {
  const activity = ctx.activity as unknown as Activity;
  const run = { tenantId: input.tenantId, runId: input.runId };

  const runSteps = async (
    steps: readonly CapsuleStep[],
    scope: TemplateScope,
    prefix: string,
    gate: StepGate,
  ) => {
    for (const step of steps) await runStep(step, scope, prefix, gate);
  };

  const runStep = async (
    step: CapsuleStep,
    scope: TemplateScope,
    prefix: string,
    gate: StepGate,
  ): Promise<void> => {
    const key = `${prefix}${step.id}`;
    const options: ActivityOptions = {
      startToCloseTimeoutMs: step.timeoutMs ?? DEFAULT_STEP_TIMEOUT_MS,
      retry: {
        maximumAttempts: step.retry?.maximumAttempts ?? 3,
        initialIntervalMs: step.retry?.initialIntervalMs ?? 1000,
        backoffCoefficient: step.retry?.backoffCoefficient ?? 2,
        ...(step.retry?.maximumIntervalMs ? { maximumIntervalMs: step.retry.maximumIntervalMs } : {}),
        // Temporal names a failure after the error's class, the journal engine after its `name`:
        // StepPolicyDenied is both a StepPolicyDenied and (by name) a StepInputError.
        nonRetryableErrorTypes: ['StepInputError', 'StepPolicyDenied'],
      },
    };
    switch (step.kind) {
      case 'modelCall':
      case 'toolCall':
      case 'memoryRecall':
      case 'artifact': {
        const { id: _id, retry: _retry, timeoutMs: _timeout, ...spec } = step;
        const output = await activity(
          key,
          'executeStep',
          { ...run, key, kind: step.kind, spec: render(spec, scope) as Record<string, unknown>, gate },
          options,
        );
        scope.steps[step.id] = { output };
        return;
      }
      case 'approval': {
        await activity(
          `${key}#await`,
          'markStep',
          {
            ...run,
            key,
            kind: step.kind,
            status: 'AWAITING_APPROVAL',
            detail: { prompt: render(step.prompt, scope) },
          },
          BOOKKEEPING,
        );
        const decision = await ctx.waitForSignal<ApprovalDecision>(key, approvalSignal(key), step.timeoutMs);
        if (!decision) {
          await activity(
            `${key}#timeout`,
            'markStep',
            {
              ...run,
              key,
              kind: step.kind,
              status: 'FAILED',
              detail: { error: `no decision within ${step.timeoutMs} ms` },
            },
            BOOKKEEPING,
          );
          throw new StepFailure(
            `approval step ${key} timed out after ${step.timeoutMs} ms without a decision`,
          );
        }
        await activity(
          `${key}#decided`,
          'markStep',
          {
            ...run,
            key,
            kind: step.kind,
            status: decision.approved ? 'APPROVED' : 'REJECTED',
            detail: { ...decision },
          },
          BOOKKEEPING,
        );
        scope.steps[step.id] = { output: decision };
        if (!decision.approved && (step.onReject ?? 'fail') === 'fail') {
          throw new StepFailure(
            `approval step ${key} was rejected by ${decision.by}${decision.comment ? `: ${decision.comment}` : ''}`,
          );
        }
        return;
      }
      case 'branch': {
        const taken = holds(step.when, scope);
        await activity(
          key,
          'markStep',
          { ...run, key, kind: step.kind, status: 'COMPLETED', detail: { taken: taken ? 'then' : 'else' } },
          BOOKKEEPING,
        );
        scope.steps[step.id] = { output: { taken: taken ? 'then' : 'else' } };
        await runSteps(taken ? step.steps : (step.otherwise ?? []), scope, prefix, gate);
        return;
      }
      case 'parallel': {
        await activity(
          `${key}#start`,
          'markStep',
          { ...run, key, kind: step.kind, status: 'RUNNING', detail: { branches: step.branches.length } },
          BOOKKEEPING,
        );
        await Promise.all(step.branches.map((branch) => runSteps(branch, scope, prefix, gate)));
        await activity(
          `${key}#end`,
          'markStep',
          { ...run, key, kind: step.kind, status: 'COMPLETED', detail: {} },
          BOOKKEEPING,
        );
        scope.steps[step.id] = { output: null };
        return;
      }
      case 'capsule': {
        const child = input.capsules[`${step.capsule}@${step.version}`];
        if (!child)
          throw new StepFailure(`sub-capsule ${step.capsule}@${step.version} was not resolved at start`);
        await activity(
          `${key}#start`,
          'markStep',
          {
            ...run,
            key,
            kind: step.kind,
            status: 'RUNNING',
            detail: { capsule: step.capsule, version: step.version },
          },
          BOOKKEEPING,
        );
        const childScope: TemplateScope = { inputs: render(step.inputs ?? {}, scope), steps: {} };
        // The sub-capsule's steps answer to its own policies AND to those of every capsule around it.
        const childGate: StepGate = {
          capsule: child.name,
          version: child.version,
          policies: [...new Set([...gate.policies, ...(child.policies ?? [])])],
        };
        await runSteps(child.steps, childScope, `${key}/`, childGate);
        const output = render(child.outputs ?? {}, childScope);
        await activity(
          `${key}#end`,
          'markStep',
          { ...run, key, kind: step.kind, status: 'COMPLETED', detail: { output } },
          BOOKKEEPING,
        );
        scope.steps[step.id] = { output };
        return;
      }
    }
  };

  const scope: TemplateScope = { inputs: input.inputs, steps: {} };
  try {
    await runSteps(input.definition.steps, scope, '', {
      capsule: input.definition.name,
      version: input.definition.version,
      policies: input.definition.policies ?? [],
    });
    const output = render(input.definition.outputs ?? {}, scope);
    await activity('run#finish', 'finishRun', { ...run, status: 'COMPLETED', output }, BOOKKEEPING);
    return output;
  } catch (error) {
    if (ctx.isCancellation(error)) {
      await ctx.nonCancellable(() =>
        activity(
          'run#finish',
          'finishRun',
          { ...run, status: 'CANCELLED', error: 'cancelled on request' },
          BOOKKEEPING,
        ),
      );
      throw error;
    }
    const message = messageOf(error);
    await activity('run#finish', 'finishRun', { ...run, status: 'FAILED', error: message }, BOOKKEEPING);
    throw new StepFailure(message);
  }
}

export { type ApprovalDecision, approvalSignal, type CapsuleRunInput };
