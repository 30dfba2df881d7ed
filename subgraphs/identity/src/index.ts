import { fileURLToPath } from 'node:url';
import type { Migration } from '@somaagent/ports';
import { loadMigrations } from '@somaagent/postgres';

export {
  ALL_CAPABILITIES,
  IDENTITY_CAPABILITIES,
  IdentityCapability,
  MEMBER_CAPABILITIES,
} from './capabilities';
export {
  type AccessTokenAuthMethod,
  type AccessTokenClaims,
  claimsFromAccessTokenPayload,
} from './claimsFromAccessTokenPayload';
export {
  createIdentitySubgraph,
  type IdentityContext,
  type IdentityDeps,
  type IdentitySubgraph,
  identityTypeDefs,
  JWKS_PATH,
} from './createIdentitySubgraph';
export { PLATFORM_ADMIN_SUBJECT } from './IdentityService';
export { IDENTITY_EVENTS_TOPIC, type IdentityEventPayload, type IdentityEventType } from './models';

/** The identity schema's migrations; apply with `db.migrate(identityMigrations)` before serving. */
export const identityMigrations: Migration[] = loadMigrations(
  'identity',
  fileURLToPath(new URL('../migrations', import.meta.url)),
);
