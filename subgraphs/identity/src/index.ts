import { fileURLToPath } from 'node:url';
import type { Migration } from '@somaagent/ports';
import { loadMigrations } from '@somaagent/postgres';

export {
  createIdentitySubgraph,
  type IdentityContext,
  type IdentityDeps,
  type IdentitySubgraph,
  identityTypeDefs,
  JWKS_PATH,
} from './createIdentitySubgraph';
export {
  type AccessTokenAuthMethod,
  type AccessTokenClaims,
  claimsFromAccessTokenPayload,
} from './claimsFromAccessTokenPayload';
export {
  ALL_CAPABILITIES,
  IDENTITY_CAPABILITIES,
  IdentityCapability,
  MEMBER_CAPABILITIES,
} from './capabilities';
export { IDENTITY_EVENTS_TOPIC, type IdentityEventPayload, type IdentityEventType } from './models';
export { PLATFORM_ADMIN_SUBJECT } from './IdentityService';

/** The identity schema's migrations; apply with `db.migrate(identityMigrations)` before serving. */
export const identityMigrations: Migration[] = loadMigrations(
  'identity',
  fileURLToPath(new URL('../migrations', import.meta.url)),
);
