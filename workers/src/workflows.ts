/**
 * Temporal's view of the workflows (bundled into its sandbox by the worker): each export is a
 * workflow type. The code itself is engine-neutral; see capsuleRunWorkflow.ts.
 */
import { createTemporalWorkflow } from '@somaagent/workflows/temporal-workflow';
import { capsuleRunWorkflow } from './capsuleRunWorkflow';

export const capsuleRun = createTemporalWorkflow(capsuleRunWorkflow);
