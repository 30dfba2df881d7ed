export {
  type ClaimsServices,
  createTokenVerifier,
  DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
  type RevocableToken,
  type TokenVerifier,
  type TrustedIssuer,
  withRoleDirectory,
} from './auth/createTokenVerifier';
export {
  boundCapabilities,
  type ClaimsMapper,
  type OidcClaimMapping,
  type OidcTenantBinding,
  oidcClaims,
} from './auth/oidcClaims';
export { composeSupergraph, readSupergraphConfig } from './compose/composeSupergraph';
export {
  createRouter,
  DEFAULT_LIMITS,
  type RouterLimits,
  type RouterOptions,
  type RunningRouter,
} from './createRouter';
export {
  createPersistedDocuments,
  loadPersistedDocuments,
  type PersistedDocuments,
  PersistedDocumentsError,
} from './persistedDocuments';
export { type ClientAddresses, createClientAddresses } from './server/clientAddress';
export { createReadinessChecks, type ReadinessCheck, type ReadinessReport } from './server/readiness';
