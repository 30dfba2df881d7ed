import { requireTenantCaller, type TenantCaller, type VerifiedClaims } from '@somaagent/internal-auth';

/** Capabilities of the sessions domain (stable strings; '*' grants all). */
export const SESSIONS_CAPABILITIES = ['sessions:read', 'sessions:write', 'personas:write'] as const;
export type SessionsCapability = (typeof SESSIONS_CAPABILITIES)[number];

export type Caller = TenantCaller;

/** The caller acting on a tenant and holding `capability` (shared rule: packages/internal-auth). */
export const requireCaller = (claims: VerifiedClaims | null, capability: SessionsCapability): Caller =>
  requireTenantCaller(claims, capability);
