import { SomaError } from '@somaagent/errors';
import { requireTenantCaller, type TenantCaller, type VerifiedClaims } from '@somaagent/internal-auth';

/** Capabilities of the billing domain (stable strings; '*' grants all). */
export const BILLING_CAPABILITIES = ['billing:budgets:read', 'billing:budgets:write'] as const;
export type BillingCapability = (typeof BILLING_CAPABILITIES)[number];

export type Caller = TenantCaller;

/** The caller acting on a tenant and holding `capability` (shared rule: packages/internal-auth). */
export const requireCaller = (claims: VerifiedClaims | null, capability: BillingCapability): Caller =>
  requireTenantCaller(claims, capability);

/** Any signed-in member of a tenant: what `myBudgets` needs (the caller's own remaining budget). */
export function requireMember(claims: VerifiedClaims | null): Caller {
  if (!claims) throw new SomaError('UNAUTHENTICATED', 'sign in first: this field needs an access token');
  if (!claims.tenantId) throw new SomaError('FORBIDDEN', 'this field acts on a tenant; the token names none');
  return { tenantId: claims.tenantId, subject: claims.subject, capabilities: claims.capabilities };
}
