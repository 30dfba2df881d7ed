import {
  holdsCapability,
  requireTenantCaller,
  type TenantCaller,
  type VerifiedClaims,
} from '@somaagent/internal-auth';

/** Capabilities of the capsules domain (stable strings; '*' grants all). */
export const CAPSULES_CAPABILITIES = [
  'capsules:read',
  'capsules:write',
  'capsules:run',
  'capsules:approve',
] as const;
export type CapsulesCapability = (typeof CAPSULES_CAPABILITIES)[number];

export type Caller = TenantCaller;

export const holds = holdsCapability;

/** The caller acting on a tenant and holding `capability` (shared rule: packages/internal-auth). */
export const requireCaller = (claims: VerifiedClaims | null, capability: CapsulesCapability): Caller =>
  requireTenantCaller(claims, capability);
