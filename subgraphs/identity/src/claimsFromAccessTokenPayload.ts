import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { JWTHeaderParameters, JWTPayload } from 'jose';

/** Values of the `amr` claim in tokens this platform issues. */
export type AccessTokenAuthMethod = 'password' | 'api_key' | 'platform_key';

/** Claims the identity subgraph puts in its access tokens, next to the registered ones. */
export interface AccessTokenClaims {
  /** Tenant id; absent for a platform administrator acting on no tenant. */
  tid?: string;
  roles: string[];
  caps: string[];
  pa: boolean;
  amr: AccessTokenAuthMethod;
}

/** `typ` header of the access tokens this platform issues (RFC 9068). */
export const ACCESS_TOKEN_TYP = 'at+jwt';

const AUTH_METHODS = new Set<VerifiedClaims['authMethod']>(['password', 'api_key', 'platform_key', 'oidc']);

const stringArray = (value: unknown, name: string): string[] => {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new TypeError(`access token claim "${name}" must be an array of strings`);
  }
  return value;
};

/**
 * Maps the payload of a VERIFIED access token (signature, `iss`, `aud`, `exp` already checked,
 * e.g. by jose `jwtVerify`) to the claims the router forwards to subgraphs. Pure; throws a
 * TypeError naming the claim when the payload is not one this platform issues. Given the
 * protected header (the router's verifier passes it), its `typ` must be `at+jwt`: another JWT
 * signed with the same keys is not an access token.
 *
 * @example
 * const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer, audience });
 * const claims = claimsFromAccessTokenPayload(payload, issuer, protectedHeader);
 */
export function claimsFromAccessTokenPayload(
  payload: JWTPayload,
  _issuer?: string,
  header?: JWTHeaderParameters,
): VerifiedClaims {
  const typ = typeof header?.typ === 'string' ? header.typ.toLowerCase().replace(/^application\//, '') : null;
  if (header && typ !== ACCESS_TOKEN_TYP) {
    throw new TypeError(`token type (typ header) must be "${ACCESS_TOKEN_TYP}": send an access token`);
  }
  const { sub, iss, exp } = payload;
  if (typeof sub !== 'string' || sub === '') throw new TypeError('access token has no "sub" claim');
  if (typeof iss !== 'string') throw new TypeError('access token has no "iss" claim');
  if (typeof exp !== 'number') throw new TypeError('access token has no "exp" claim');
  const tid = payload.tid;
  if (tid !== undefined && tid !== null && typeof tid !== 'string') {
    throw new TypeError('access token claim "tid" must be a string');
  }
  const platformAdmin = payload.pa === true;
  if (!tid && !platformAdmin) throw new TypeError('access token has neither a tenant ("tid") nor "pa"');
  // RFC 8176 makes `amr` an array; our tokens carry one string. Accept both.
  const amr = Array.isArray(payload.amr) ? payload.amr[0] : payload.amr;
  if (typeof amr !== 'string' || !AUTH_METHODS.has(amr as VerifiedClaims['authMethod'])) {
    throw new TypeError('access token claim "amr" is not a known authentication method');
  }
  return {
    subject: sub,
    tenantId: tid ? tid : null,
    roles: stringArray(payload.roles, 'roles'),
    capabilities: stringArray(payload.caps, 'caps'),
    platformAdmin,
    issuer: iss,
    expiresAt: exp,
    authMethod: amr as VerifiedClaims['authMethod'],
  };
}
