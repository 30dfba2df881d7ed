export { retryDelayMs } from './backoff';
export {
  OpenAICompatibleChatModel,
  type OpenAICompatibleChatModelOptions,
} from './OpenAICompatibleChatModel';
