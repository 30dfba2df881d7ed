export * from './BudgetGuard';
export {
  type CapsuleMarkedStepStatus,
  type CapsuleRunContext,
  CapsuleRunNotFound,
  type CapsuleRunOutcome,
  type CapsuleRunRef,
  type CapsuleRunStarter,
  type CapsuleRunStore,
  type CapsuleStepRecord,
  type CapsuleStepRef,
} from './CapsuleRunStore';
export type {
  ChatChunk,
  ChatMessage,
  ChatModel,
  ChatRequest,
  ChatStreamChunk,
  ChatTool,
  ChatToolCall,
  ChatToolCallChunk,
  ChatToolChoice,
  ChatToolRequest,
  TokenUsage,
  UsageSource,
} from './ChatModel';
export { ChatModelError, ChatToolDefinitionError } from './ChatModel';
export type * from './ContextRetriever';
export type * from './CrossDomainPorts';
export { EmbeddingError, type EmbeddingErrorReason, type EmbeddingModel } from './EmbeddingModel';
export type * from './EventBus';
export type * from './NonceStore';
export type * from './ObjectStorage';
export {
  type PolicyDecision,
  PolicyEngineUnavailable,
  type PolicyEvaluator,
  type PolicyInput,
  type PolicyModule,
  type PolicySetInfo,
  type PolicySubject,
} from './PolicyEvaluator';
export type * from './RateLimiter';
export type * from './SignInAttemptStore';
export type * from './SqlDatabase';
export type * from './StreamLog';
export type * from './TenantRoleDirectory';
export type * from './VectorIndex';
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
