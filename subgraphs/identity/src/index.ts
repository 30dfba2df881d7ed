export {
  ALL_CAPABILITIES,
  IDENTITY_CAPABILITIES,
  IdentityCapability,
  MEMBER_CAPABILITIES,
} from './capabilities';
export {
  ACCESS_TOKEN_TYP,
  type AccessTokenAuthMethod,
  type AccessTokenClaims,
  claimsFromAccessTokenPayload,
} from './claimsFromAccessTokenPayload';
export {
  createIdentitySubgraph,
  type IdentityContext,
  type IdentityDeps,
  type IdentityRequestInfo,
  type IdentitySubgraph,
  identityTypeDefs,
  JWKS_PATH,
} from './createIdentitySubgraph';
export { identityMigrations } from './migrations';
export { IDENTITY_EVENTS_TOPIC, type IdentityEventPayload, type IdentityEventType } from './models';
export { type IdentityModuleConfig, identityModule } from './module';
export { RevocationFeed } from './RevocationList';
export {
  DEFAULT_SIGN_IN_THROTTLE,
  InMemorySignInAttemptStore,
  SignInThrottle,
  type SignInThrottleOptions,
} from './SignInThrottle';
export { SqlTenantRoleDirectory } from './SqlTenantRoleDirectory';
export { PLATFORM_ADMIN_SUBJECT, UNKNOWN_USER } from './TokenService';
