export { OutboxRelay } from '@somaagent/events';
export { SESSIONS_CAPABILITIES, type SessionsCapability } from './capabilities';
export {
  createSessionsSubgraph,
  type SessionsContext,
  type SessionsDeps,
  type SessionsSubgraph,
  sessionsTypeDefs,
} from './createSessionsSubgraph';
export type { ModelProvider } from './generated/resolvers-types';
export { MODEL_POLICY } from './ModelAccess';
export { sessionsMigrations } from './migrations';
export { type SessionsModuleConfig, sessionsModule } from './module';
export { costUsd, DEFAULT_PRICES, type ModelPrice, type PriceTable } from './prices';
export { CONVERSATION_TOPIC, SLM_REQUESTS_TOPIC } from './recordAnswer';
export { sessionStream } from './SessionEventFeed';
export { SessionService } from './SessionService';
