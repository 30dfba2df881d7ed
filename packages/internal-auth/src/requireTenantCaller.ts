import { SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from './index';

/** A caller acting on one tenant, as the router verified it. */
export interface TenantCaller {
  tenantId: string;
  subject: string;
  capabilities: readonly string[];
}

/** Whether the claims grant `capability` ('*' grants every capability). */
export const holdsCapability = (claims: { capabilities: readonly string[] }, capability: string) =>
  claims.capabilities.includes('*') || claims.capabilities.includes(capability);

/**
 * The caller acting on a tenant and holding `capability`; otherwise UNAUTHENTICATED (no token)
 * or FORBIDDEN (no tenant, or the capability missing, named in the message). Every tenant
 * domain's resolvers start with this.
 */
export function requireTenantCaller(claims: VerifiedClaims | null, capability: string): TenantCaller {
  if (!claims) throw new SomaError('UNAUTHENTICATED', 'sign in first: this field needs an access token');
  if (!claims.tenantId) {
    throw new SomaError('FORBIDDEN', 'this field acts on a tenant; the token names none', { capability });
  }
  if (!holdsCapability(claims, capability)) {
    throw new SomaError('FORBIDDEN', `missing capability "${capability}": ask a tenant admin to grant it`, {
      capability,
    });
  }
  return { tenantId: claims.tenantId, subject: claims.subject, capabilities: claims.capabilities };
}
