export {
  ALL_CAPABILITIES,
  IDENTITY_CAPABILITIES,
  IdentityCapability,
  MEMBER_CAPABILITIES,
} from './capabilities';
export {
  type AccessTokenAuthMethod,
  type AccessTokenClaims,
  ACCESS_TOKEN_TYP,
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
export { identityMigrations } from './migrations';
export { IDENTITY_EVENTS_TOPIC, type IdentityEventPayload, type IdentityEventType } from './models';
export { type IdentityModuleConfig, identityModule } from './module';
