/**
 * Capsule definitions: the TypeScript shape of subgraphs/capsules/capsule.schema.json (the
 * capsules domain parses and checks texts against that schema). Pure: the workflow code in
 * workers/ imports it inside Temporal's sandbox.
 */
export interface RetrySpec {
  maximumAttempts?: number;
  initialIntervalMs?: number;
  backoffCoefficient?: number;
  maximumIntervalMs?: number;
}

interface StepBase {
  id: string;
  description?: string;
  timeoutMs?: number;
  retry?: RetrySpec;
}

export interface ModelCallStep extends StepBase {
  kind: 'modelCall';
  prompt: string;
  system?: string;
  model?: string;
  maxTokens?: number;
  temperature?: number;
}
export interface ToolCallStep extends StepBase {
  kind: 'toolCall';
  tool: string;
  args?: Record<string, unknown>;
}
export interface MemoryRecallStep extends StepBase {
  kind: 'memoryRecall';
  query: string;
  k?: number;
}
export interface SubCapsuleStep extends StepBase {
  kind: 'capsule';
  capsule: string;
  version: string;
  inputs?: Record<string, unknown>;
}
export interface ApprovalStep extends StepBase {
  kind: 'approval';
  prompt: string;
  /** @default 'fail' */
  onReject?: 'fail' | 'continue';
}
export interface Condition {
  path: string;
  equals?: unknown;
  notEquals?: unknown;
  exists?: boolean;
}
export interface BranchStep extends StepBase {
  kind: 'branch';
  when: Condition;
  /** Run when `when` holds. (Not named `then`: an object with `then` is a thenable.) */
  steps: CapsuleStep[];
  /** Run otherwise. */
  otherwise?: CapsuleStep[];
}
export interface ParallelStep extends StepBase {
  kind: 'parallel';
  branches: CapsuleStep[][];
}
export interface ArtifactStep extends StepBase {
  kind: 'artifact';
  name: string;
  contentType?: string;
  content: string;
}

export type CapsuleStep =
  | ModelCallStep
  | ToolCallStep
  | MemoryRecallStep
  | SubCapsuleStep
  | ApprovalStep
  | BranchStep
  | ParallelStep
  | ArtifactStep;

export type StepKind = CapsuleStep['kind'];

export interface CapsuleDefinition {
  name: string;
  version: string;
  description?: string;
  inputs?: Record<string, unknown>;
  capabilities?: string[];
  policies?: string[];
  steps: CapsuleStep[];
  outputs?: Record<string, unknown>;
}

/** Every step of a definition, nested ones included, depth first. */
export function allSteps(steps: readonly CapsuleStep[]): CapsuleStep[] {
  return steps.flatMap((step) => {
    if (step.kind === 'branch') return [step, ...allSteps(step.steps), ...allSteps(step.otherwise ?? [])];
    if (step.kind === 'parallel') return [step, ...step.branches.flatMap((b) => allSteps(b))];
    return [step];
  });
}
