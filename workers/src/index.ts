export {
  type ActivitiesDeps,
  appendRunEvent,
  BUILTIN_TOOLS,
  type CapsuleActivities,
  createActivities,
  type RunEvent,
  type RunEventType,
  type RunStarter,
  runStream,
  type StepGate,
  StepInputError,
  StepPolicyDenied,
  StepPolicyUnavailable,
} from './activities';
/** Workflow types by name: the embedded engine registers these; Temporal's worker bundles workflows.ts. */
export {
  type ApprovalDecision,
  approvalSignal,
  type CapsuleRunInput,
  capsuleRunWorkflow,
  capsuleRunWorkflow as capsuleRun,
} from './capsuleRunWorkflow';
export const WORKFLOWS_PATH = new URL('./workflows.ts', import.meta.url).pathname;
