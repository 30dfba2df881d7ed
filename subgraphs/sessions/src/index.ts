import { fileURLToPath } from 'node:url';
import type { Migration } from '@somaagent/ports';
import { loadMigrations } from '@somaagent/postgres';

export { SESSIONS_CAPABILITIES, type SessionsCapability } from './capabilities';
export {
  createSessionsSubgraph,
  type SessionsContext,
  type SessionsDeps,
  type SessionsSubgraph,
  sessionsTypeDefs,
} from './createSessionsSubgraph';
export type { ModelProvider } from './generated/resolvers-types';
export { OutboxRelay } from './OutboxRelay';
export { costUsd, DEFAULT_PRICES, type ModelPrice, type PriceTable } from './prices';
export {
  CONVERSATION_TOPIC,
  MODEL_POLICY,
  SessionService,
  SLM_REQUESTS_TOPIC,
  sessionStream,
} from './SessionService';

/** The sessions schema's migrations; apply with `db.migrate(sessionsMigrations)` before serving. */
export const sessionsMigrations: Migration[] = loadMigrations(
  'sessions',
  fileURLToPath(new URL('../migrations', import.meta.url)),
);
