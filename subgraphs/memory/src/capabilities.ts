import { requireTenantCaller, type TenantCaller, type VerifiedClaims } from '@somaagent/internal-auth';

/** Capabilities of the memory domain (stable strings; '*' grants all). */
export const MEMORY_CAPABILITIES = ['memory:read', 'memory:write'] as const;
export type MemoryCapability = (typeof MEMORY_CAPABILITIES)[number];

export type Caller = TenantCaller;

/** The caller acting on a tenant and holding `capability` (shared rule: packages/internal-auth). */
export const requireCaller = (claims: VerifiedClaims | null, capability: MemoryCapability): Caller =>
  requireTenantCaller(claims, capability);
