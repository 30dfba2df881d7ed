import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { JWTPayload } from 'jose';

export interface OidcClaimMapping {
  /**
   * Claim that names the SomaAgent tenant the external identity acts for.
   * @default 'soma_tenant'
   */
  tenantClaim?: string;
  /**
   * Scopes with this prefix become capabilities (prefix stripped), e.g. `soma:identity:users:read`.
   * @default 'soma:'
   */
  capabilityScopePrefix?: string;
}

/** Claims of a token from an external OIDC issuer (Keycloak, any certified OP). */
export const oidcClaims =
  ({ tenantClaim = 'soma_tenant', capabilityScopePrefix = 'soma:' }: OidcClaimMapping = {}) =>
  (payload: JWTPayload, issuer: string): VerifiedClaims => {
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
    const tenant = payload[tenantClaim];
    return {
      subject: String(payload.sub ?? payload.client_id ?? 'unknown'),
      tenantId: typeof tenant === 'string' && tenant.length > 0 ? tenant : null,
      roles: [],
      capabilities: scopes
        .filter((s) => s.startsWith(capabilityScopePrefix))
        .map((s) => s.slice(capabilityScopePrefix.length)),
      platformAdmin: false,
      issuer,
      expiresAt: payload.exp ?? 0,
      authMethod: 'oidc',
    };
  };
