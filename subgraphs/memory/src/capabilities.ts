import { SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from '@somaagent/internal-auth';

/** Capabilities of the memory domain (stable strings; '*' grants all). */
export const MEMORY_CAPABILITIES = ['memory:read', 'memory:write'] as const;
export type MemoryCapability = (typeof MEMORY_CAPABILITIES)[number];

export interface Caller {
  tenantId: string;
  subject: string;
}

/** The caller acting on a tenant and holding `capability`; otherwise UNAUTHENTICATED/FORBIDDEN. */
export function requireCaller(claims: VerifiedClaims | null, capability: MemoryCapability): Caller {
  if (!claims) throw new SomaError('UNAUTHENTICATED', 'sign in first: this field needs an access token');
  if (!claims.tenantId) {
    throw new SomaError('FORBIDDEN', 'this field acts on a tenant; the token names none', { capability });
  }
  if (!claims.capabilities.includes('*') && !claims.capabilities.includes(capability)) {
    throw new SomaError('FORBIDDEN', `missing capability "${capability}": ask a tenant admin to grant it`, {
      capability,
    });
  }
  return { tenantId: claims.tenantId, subject: claims.subject };
}
