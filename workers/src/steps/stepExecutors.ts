import type { ExecutableStepKind } from '../ActivitiesDeps';
import { artifactStep } from './artifactStep';
import { memoryRecallStep } from './memoryRecallStep';
import { modelCallStep } from './modelCallStep';
import type { StepExecutor } from './StepExecutor';
import { toolCallStep } from './toolCallStep';

/** One executor per step kind that works in an activity; a new kind is one file and one entry. */
export const stepExecutors: Record<ExecutableStepKind, StepExecutor> = {
  toolCall: toolCallStep,
  modelCall: modelCallStep,
  memoryRecall: memoryRecallStep,
  artifact: artifactStep,
};
