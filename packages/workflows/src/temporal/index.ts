// `@somaagent/workflows/temporal`: the Temporal client side only (no worker, no native bridge),
// with the client classes it is built from, so a process that selects Temporal loads it here.
export { Client, Connection } from '@temporalio/client';
export {
  TemporalWorkflowEngine,
  type TemporalWorkflowEngineOptions,
} from './TemporalWorkflowEngine';
