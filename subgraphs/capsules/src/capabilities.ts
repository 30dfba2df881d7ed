import { SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from '@somaagent/internal-auth';

/** Capabilities of the capsules domain (stable strings; '*' grants all). */
export const CAPSULES_CAPABILITIES = [
  'capsules:read',
  'capsules:write',
  'capsules:run',
  'capsules:approve',
] as const;
export type CapsulesCapability = (typeof CAPSULES_CAPABILITIES)[number];

export interface Caller {
  tenantId: string;
  subject: string;
  capabilities: readonly string[];
}

export const holds = (caller: { capabilities: readonly string[] }, capability: string) =>
  caller.capabilities.includes('*') || caller.capabilities.includes(capability);

/** The caller acting on a tenant and holding `capability`; otherwise UNAUTHENTICATED/FORBIDDEN. */
export function requireCaller(claims: VerifiedClaims | null, capability: CapsulesCapability): Caller {
  if (!claims) throw new SomaError('UNAUTHENTICATED', 'sign in first: this field needs an access token');
  if (!claims.tenantId) {
    throw new SomaError('FORBIDDEN', 'this field acts on a tenant; the token names none', { capability });
  }
  if (!holds(claims, capability)) {
    throw new SomaError('FORBIDDEN', `missing capability "${capability}": ask a tenant admin to grant it`, {
      capability,
    });
  }
  return { tenantId: claims.tenantId, subject: claims.subject, capabilities: claims.capabilities };
}
