export type { ChatChunk, ChatMessage, ChatModel, ChatRequest } from './ChatModel';
export { ChatModelError } from './ChatModel';
export type * from './ContextRetriever';
export type * from './EventBus';
export type * from './ObjectStorage';
export type * from './SqlDatabase';
export type * from './StreamLog';
export type {
  ActivityFunction,
  ActivityOptions,
  ActivityRunInfo,
  RetryPolicy,
  WorkflowContext,
  WorkflowDescription,
  WorkflowEngine,
  WorkflowFunction,
  WorkflowStatus,
} from './WorkflowEngine';
export { WorkflowEngineError } from './WorkflowEngine';
