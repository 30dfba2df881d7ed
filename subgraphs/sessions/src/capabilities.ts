import { SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from '@somaagent/internal-auth';

/** Capabilities of the sessions domain (stable strings; '*' grants all). */
export const SESSIONS_CAPABILITIES = ['sessions:read', 'sessions:write', 'personas:write'] as const;
export type SessionsCapability = (typeof SESSIONS_CAPABILITIES)[number];

export interface Caller {
  tenantId: string;
  subject: string;
}

/** The caller acting on a tenant and holding `capability`; otherwise UNAUTHENTICATED/FORBIDDEN. */
export function requireCaller(claims: VerifiedClaims | null, capability: SessionsCapability): Caller {
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
