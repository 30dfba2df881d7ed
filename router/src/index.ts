export { createTokenVerifier, type TokenVerifier, type TrustedIssuer } from './auth/createTokenVerifier';
export { type OidcClaimMapping, oidcClaims } from './auth/oidcClaims';
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
