export { retryDelayMs } from './backoff';
export { ToolAnswerParser, toolAnswerSchema, validateChatTools } from './chatTools';
export { GgufTokenCounter, type TokenCounter } from './GgufTokenCounter';
export { LocalLlamaChatModel, type LocalLlamaChatModelOptions } from './LocalLlamaChatModel';
export { createNodeHttpFetch, type NodeHttpFetchOptions } from './nodeHttpFetch';
export {
  OpenAICompatibleChatModel,
  type OpenAICompatibleChatModelOptions,
} from './OpenAICompatibleChatModel';
export { StreamSlots } from './StreamSlots';
export { ensureTinyLlamaModel, TINY_MODEL_NAME } from './tinyLlamaModel';
