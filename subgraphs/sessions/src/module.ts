import { defineSubgraphModule, type ModuleDeps } from '@somaagent/subgraph-server';
import { SESSIONS_CAPABILITIES } from './capabilities';
import { createSessionsSubgraph, type SessionsDeps } from './createSessionsSubgraph';
import { sessionsMigrations } from './migrations';

/** The sessions module's own settings (the rest comes from the runtime and the ports). */
export type SessionsModuleConfig = Omit<SessionsDeps, 'db' | 'events' | 'streams' | 'policy' | 'retriever'>;

/** Personas, sessions and streamed generations; recalls memory through `sessionContext`. */
export const sessionsModule = defineSubgraphModule({
  name: 'sessions',
  migrations: sessionsMigrations,
  capabilities: SESSIONS_CAPABILITIES,
  provides: [],
  needs: ['sessionContext'],
  create: ({ runtime, ports, config }: ModuleDeps<SessionsModuleConfig, 'sessionContext'>) =>
    createSessionsSubgraph({
      ...config,
      db: runtime.db,
      events: runtime.events,
      streams: runtime.streams,
      policy: runtime.policy,
      retriever: ports.sessionContext,
    }),
});
