export type { RunEvent, RunEventType } from '@somaagent/capsule-contract';
export { runStream } from '@somaagent/capsule-contract';
export type {
  ActivitiesDeps,
  ExecutableStepKind,
  ExecuteStepArgs,
  FinishRunArgs,
  MarkStepArgs,
  RunStarter,
  StepGate,
} from './ActivitiesDeps';
export { type CapsuleActivities, createActivities } from './activities';
export { BUILTIN_TOOLS, type Tool } from './builtinTools';
/** Workflow types by name: the embedded engine registers these; Temporal's worker bundles workflows.ts. */
export {
  type ApprovalDecision,
  approvalSignal,
  type CapsuleRunInput,
  capsuleRunWorkflow,
  capsuleRunWorkflow as capsuleRun,
} from './capsuleRunWorkflow';
export { checkStepPolicies } from './checkStepPolicies';
export { StepInputError, StepPolicyDenied, StepPolicyUnavailable } from './stepErrors';
export type { StepContext, StepExecutor } from './steps/StepExecutor';
export { stepExecutors } from './steps/stepExecutors';
export const WORKFLOWS_PATH = new URL('./workflows.ts', import.meta.url).pathname;
