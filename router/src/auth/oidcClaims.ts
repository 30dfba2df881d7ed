import { SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { TenantRoleDirectory } from '@somaagent/ports';
import type { JWTHeaderParameters, JWTPayload } from 'jose';
import type { ClaimsServices } from './createTokenVerifier';

/** One tenant an external issuer may act for, and what its tokens may do there. */
export interface OidcTenantBinding {
  /** The SomaAgent tenant id (uuid) the token acts for. */
  tenantId: string;
  /**
   * The value of the tenant claim that names this tenant (an IdP usually knows its own
   * organisation name, not our uuid).
   * @default tenantId
   */
  claimValue?: string;
  /**
   * The most a token may receive here: capabilities from its scopes are intersected with this
   * list. `'*'` (every capability, e.g. minting API keys) only when listed explicitly. An empty
   * list makes the tokens authenticate but grants nothing.
   */
  allowedCapabilities: readonly string[];
  /**
   * Roles of the tenant (created through the graph, `createRole`) that every token of this issuer
   * holds there. They grant what they grant the tenant's own users, so RBAC applies to external
   * identities; the allowlist still bounds the result. A role the tenant does not define refuses
   * the token (401, naming the role), so a typo never silently grants nothing.
   * @default []
   */
  roles?: readonly string[];
  /**
   * IdP group → roles of the tenant: a token whose groups claim ({@link OidcClaimMapping.groupsClaim})
   * lists a group here holds those roles too. Groups not listed are ignored.
   * @default {}
   */
  rolesByGroup?: Readonly<Record<string, readonly string[]>>;
}

export interface OidcClaimMapping {
  /**
   * The tenants this issuer may act for. A token naming a tenant not listed (or naming none while
   * several are listed, or naming one with a value that is not a short string) is refused with
   * 401. With one binding, a token without the tenant claim acts for that tenant.
   */
  tenants: readonly OidcTenantBinding[];
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
  /**
   * Explicit scope → capabilities, for IdPs whose scopes are coarse (`soma:read`). A scope listed
   * here maps only to these; other scopes fall back to the prefix rule. The allowlist still bounds
   * the result.
   * @default {}
   */
  scopeCapabilities?: Readonly<Record<string, readonly string[]>>;
  /**
   * Put before the token's `sub` to form the SomaAgent subject, so an external subject can never
   * equal a SomaAgent user id (memory's per-user scope, `viewer`, audit actors key on it).
   * @default `oidc:<issuer>#`
   */
  subjectPrefix?: string;
  /**
   * Claim listing the identity's IdP groups (an array of strings, or one space-separated string),
   * mapped to tenant roles by each binding's `rolesByGroup`.
   * @default 'groups'
   */
  groupsClaim?: string;
}

/** Turns a verified payload into claims; `services` is what `withRoleDirectory` binds. */
export type ClaimsMapper = (
  payload: JWTPayload,
  issuer: string,
  header?: JWTHeaderParameters,
  services?: ClaimsServices,
) => Promise<VerifiedClaims>;

/** Longest tenant claim value and `sub` looked at; longer ones are refused, not truncated. */
const MAX_CLAIM_LENGTH = 255;
/** Groups looked at per token; an IdP that sends more is cut off here, not trusted with a huge lookup. */
const MAX_GROUPS = 256;

const refused = (message: string) => new SomaError('UNAUTHENTICATED', message, { http: { status: 401 } });

/**
 * The capabilities a token receives: what its scopes grant, intersected with the allowlist.
 * `'*'` on one side means "everything the other side names".
 */
export function boundCapabilities(granted: Iterable<string>, allowed: readonly string[]): string[] {
  const wanted = new Set(granted);
  if (wanted.has('*')) return [...new Set(allowed)].sort();
  if (allowed.includes('*')) return [...wanted].sort();
  return [...wanted].filter((c) => allowed.includes(c)).sort();
}

/**
 * Claims of a token from an external OIDC issuer (Keycloak, any certified OP), bound to the
 * tenants it is configured for. Throws UNAUTHENTICATED (401) for a tenant claim that is not one of
 * them or not a usable string.
 *
 * @example
 * oidcClaims({
 *   tenants: [{ tenantId: '5f0c…', claimValue: 'acme', allowedCapabilities: ['identity:users:read'] }],
 *   scopeCapabilities: { 'soma:read': ['identity:users:read', 'identity:tenant:read'] },
 * })
 */
export function oidcClaims(mapping: OidcClaimMapping): ClaimsMapper {
  const {
    tenants,
    tenantClaim = 'soma_tenant',
    groupsClaim = 'groups',
    capabilityScopePrefix = 'soma:',
    scopeCapabilities = {},
  } = mapping;
  if (!Array.isArray(tenants) || tenants.length === 0) {
    throw new RangeError(
      'oidcClaims: an external issuer must be bound to at least one tenant (tenants: [...])',
    );
  }
  const byClaim = new Map<string, OidcTenantBinding>();
  for (const binding of tenants) {
    const key = binding.claimValue ?? binding.tenantId;
    if (byClaim.has(key)) throw new RangeError(`oidcClaims: tenant claim value "${key}" is bound twice`);
    byClaim.set(key, binding);
  }
  const only = tenants.length === 1 ? tenants[0] : undefined;

  return async (payload, issuer, _header, services = {}) => {
    const binding = bindingFor(payload[tenantClaim]);
    const rawSubject = payload.sub ?? payload.client_id;
    if (typeof rawSubject !== 'string' || rawSubject === '' || rawSubject.length > MAX_CLAIM_LENGTH) {
      throw refused(`token needs a "sub" of 1-${MAX_CLAIM_LENGTH} characters`);
    }
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
    const granted = scopes.flatMap((scope) =>
      Object.hasOwn(scopeCapabilities, scope)
        ? [...(scopeCapabilities[scope] ?? [])]
        : scope.startsWith(capabilityScopePrefix)
          ? [scope.slice(capabilityScopePrefix.length)]
          : [],
    );
    const roles = rolesOf(binding, payload[groupsClaim]);
    granted.push(...(await roleCapabilities(binding.tenantId, roles, services.roles)));
    return {
      subject: `${mapping.subjectPrefix ?? `oidc:${issuer}#`}${rawSubject}`,
      tenantId: binding.tenantId,
      roles,
      capabilities: boundCapabilities(granted, binding.allowedCapabilities),
      platformAdmin: false,
      issuer,
      expiresAt: payload.exp ?? 0,
      authMethod: 'oidc',
    };
  };

  function rolesOf(binding: OidcTenantBinding, groupsValue: unknown): string[] {
    const roles = new Set(binding.roles ?? []);
    const byGroup = binding.rolesByGroup ?? {};
    const groups =
      typeof groupsValue === 'string'
        ? groupsValue.split(' ')
        : Array.isArray(groupsValue)
          ? groupsValue.filter((g): g is string => typeof g === 'string')
          : [];
    for (const group of groups.slice(0, MAX_GROUPS)) {
      if (Object.hasOwn(byGroup, group)) for (const role of byGroup[group] ?? []) roles.add(role);
    }
    return [...roles].sort();
  }

  function bindingFor(claim: unknown): OidcTenantBinding {
    if (claim === undefined || claim === null) {
      if (only) return only;
      throw refused(`token names no tenant ("${tenantClaim}" claim); this issuer serves several`);
    }
    if (typeof claim !== 'string' || claim.length === 0 || claim.length > MAX_CLAIM_LENGTH) {
      throw refused(`token claim "${tenantClaim}" must be a string of 1-${MAX_CLAIM_LENGTH} characters`);
    }
    const binding = byClaim.get(claim);
    // The value is not echoed: it is the caller's, and may be long or crafted.
    if (!binding) throw refused(`token claim "${tenantClaim}" names a tenant this issuer may not act for`);
    return binding;
  }
}

/** What the roles grant in the tenant; refuses the token when one of them is not defined there. */
async function roleCapabilities(
  tenantId: string,
  roles: readonly string[],
  directory: TenantRoleDirectory | undefined,
): Promise<string[]> {
  if (roles.length === 0) return [];
  if (!directory) {
    throw refused(
      'this issuer binds roles, but the router has no role directory to resolve them (withRoleDirectory)',
    );
  }
  const found = await directory.capabilitiesOfRoles(tenantId, roles);
  const missing = roles.find((role) => !found.has(role));
  // Role names come from the operator's binding, not from the token, so naming one is safe.
  if (missing !== undefined) {
    throw refused(
      `the issuer binding names role "${missing}", which the tenant does not define; create it first`,
    );
  }
  return roles.flatMap((role) => [...(found.get(role) ?? [])]);
}
