import { defineSubgraphModule, type ModuleDeps } from '@somaagent/subgraph-server';
import { IDENTITY_CAPABILITIES } from './capabilities';
import { createIdentitySubgraph, type IdentityDeps } from './createIdentitySubgraph';
import { identityMigrations } from './migrations';

/** The identity module's own settings (the rest comes from the runtime). */
export type IdentityModuleConfig = Omit<IdentityDeps, 'db' | 'events' | 'knownCapabilities'>;

/** Tenants, users, roles, API keys and the tokens the router verifies. Needs no other domain. */
export const identityModule = defineSubgraphModule({
  name: 'identity',
  migrations: identityMigrations,
  capabilities: IDENTITY_CAPABILITIES,
  provides: [],
  needs: [],
  create: ({ runtime, config }: ModuleDeps<IdentityModuleConfig, never>) =>
    createIdentitySubgraph({
      ...config,
      db: runtime.db,
      events: runtime.events,
      knownCapabilities: runtime.knownCapabilities,
    }),
});
