export type { ChatChunk, ChatMessage, ChatModel, ChatRequest } from './ChatModel';
export { ChatModelError } from './ChatModel';
export type * from './ContextRetriever';
export type * from './EventBus';
export type * from './SqlDatabase';
export type * from './StreamLog';
