import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * What the router learned from a verified token, forwarded to subgraphs inside a signed envelope.
 * Subgraphs trust these claims only when the envelope's HMAC verifies with the shared secret.
 */
export interface VerifiedClaims {
  /** User id, API-key id or external subject. */
  subject: string;
  /** Tenant the token acts for; `null` for a platform administrator acting on no tenant. */
  tenantId: string | null;
  roles: string[];
  capabilities: string[];
  platformAdmin: boolean;
  issuer: string;
  /** Seconds since the epoch. */
  expiresAt: number;
  authMethod: 'password' | 'api_key' | 'platform_key' | 'oidc';
}

/** Name of the GraphQL request extension that carries the envelope, over HTTP and graphql-ws alike. */
export const ROUTER_ENVELOPE_EXTENSION = 'somaRouter';

export interface RouterEnvelope {
  claims: VerifiedClaims | null;
  /** Seconds since the epoch when the router signed. */
  iat: number;
  sig: string;
}

export interface SignableRequest {
  query: string;
  variables?: Record<string, unknown> | null | undefined;
  operationName?: string | null | undefined;
}

/** JSON with sorted keys, so both ends hash the same bytes whatever order a serializer chose. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  // Plain loops and one string: this runs for every signed request and policy question, and the
  // entries/filter/sort/map/join version allocated five arrays per object (same output).
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + stableStringify(value[i]);
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  // Default sort compares UTF-16 code units, as `<` does.
  const keys = Object.keys(record).sort();
  let out = '{';
  for (const key of keys) {
    const v = record[key];
    if (v === undefined) continue;
    out += `${out.length === 1 ? '' : ','}${JSON.stringify(key)}:${stableStringify(v)}`;
  }
  return `${out}}`;
}

// operationName is left out: executors differ in whether they send it, and the query text
// already pins the operation.
const mac = (secret: string, req: SignableRequest, claims: VerifiedClaims | null, iat: number) =>
  createHmac('sha256', secret)
    .update(stableStringify([req.query, req.variables ?? {}, claims, iat]))
    .digest('base64url');

/** Router side: binds the claims to this exact operation and time. */
export function signRouterEnvelope(
  secret: string,
  req: SignableRequest,
  claims: VerifiedClaims | null,
  now = Math.floor(Date.now() / 1000),
): RouterEnvelope {
  return { claims, iat: now, sig: mac(secret, req, claims, now) };
}

export class EnvelopeRejected extends Error {
  readonly code = 'ERR_ROUTER_ENVELOPE_REJECTED';
}

/**
 * Subgraph side: returns the claims if the envelope was signed by the router for this request
 * within `maxAgeSeconds`; throws {@link EnvelopeRejected} otherwise.
 */
export function verifyRouterEnvelope(
  secret: string,
  req: SignableRequest,
  envelope: unknown,
  { now = Math.floor(Date.now() / 1000), maxAgeSeconds = 60 } = {},
): VerifiedClaims | null {
  if (typeof envelope !== 'object' || envelope === null) {
    throw new EnvelopeRejected('missing router signature: subgraphs accept requests from the router only');
  }
  const { claims, iat, sig } = envelope as Partial<RouterEnvelope>;
  if (typeof iat !== 'number' || typeof sig !== 'string' || claims === undefined) {
    throw new EnvelopeRejected('malformed router signature');
  }
  if (Math.abs(now - iat) > maxAgeSeconds) throw new EnvelopeRejected('router signature expired');
  const expected = Buffer.from(mac(secret, req, claims, iat));
  const given = Buffer.from(sig);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw new EnvelopeRejected('router signature does not match');
  }
  return claims;
}
export { holdsCapability, requireTenantCaller, type TenantCaller } from './requireTenantCaller';
