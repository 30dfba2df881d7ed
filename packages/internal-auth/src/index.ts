import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { NonceStore } from '@somaagent/ports';

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
  /** Random, unique per signed request: the subgraph accepts each one once (replay guard). */
  nonce: string;
  sig: string;
}

/** How long a signed request stays acceptable, either side of its `iat` (clock skew included). */
export const ROUTER_ENVELOPE_MAX_AGE_SECONDS = 60;

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
const mac = (
  secret: string,
  req: SignableRequest,
  claims: VerifiedClaims | null,
  iat: number,
  nonce: string,
) =>
  createHmac('sha256', secret)
    .update(stableStringify([req.query, req.variables ?? {}, claims, iat, nonce]))
    .digest('base64url');

/** 128 random bits, base64url: what the router puts in `nonce`. */
const NONCE_PATTERN = /^[A-Za-z0-9_-]{22,64}$/;

/** Router side: binds the claims to this exact operation, time and (fresh) nonce. */
export function signRouterEnvelope(
  secret: string,
  req: SignableRequest,
  claims: VerifiedClaims | null,
  now = Math.floor(Date.now() / 1000),
): RouterEnvelope {
  const nonce = randomBytes(16).toString('base64url');
  return { claims, iat: now, nonce, sig: mac(secret, req, claims, now, nonce) };
}

export class EnvelopeRejected extends Error {
  readonly code = 'ERR_ROUTER_ENVELOPE_REJECTED';
}

export interface VerifyEnvelopeOptions {
  /** Seconds since the epoch. @default now */
  now?: number;
  /** @default ROUTER_ENVELOPE_MAX_AGE_SECONDS (60) */
  maxAgeSeconds?: number;
}

/**
 * Subgraph side, signature only: returns the claims if the envelope was signed by the router for
 * this request within `maxAgeSeconds`; throws {@link EnvelopeRejected} otherwise. It does not
 * stop a replay: servers call {@link acceptRouterEnvelope}, which also spends the nonce.
 */
export function verifyRouterEnvelope(
  secret: string,
  req: SignableRequest,
  envelope: unknown,
  options: VerifyEnvelopeOptions = {},
): VerifiedClaims | null {
  return checkEnvelope(secret, req, envelope, options).claims;
}

/**
 * Subgraph side: {@link verifyRouterEnvelope}, then claims the envelope's nonce in `nonces` for
 * as long as the signature could still be accepted. A second presentation of the same signed
 * request, to this server or (with a shared store) to any replica, throws {@link EnvelopeRejected}.
 */
export async function acceptRouterEnvelope(
  secret: string,
  req: SignableRequest,
  envelope: unknown,
  nonces: NonceStore,
  options: VerifyEnvelopeOptions = {},
): Promise<VerifiedClaims | null> {
  const { claims, iat, nonce } = checkEnvelope(secret, req, envelope, options);
  const maxAge = options.maxAgeSeconds ?? ROUTER_ENVELOPE_MAX_AGE_SECONDS;
  // Remembered until the signature expires on this server's clock, plus a second for rounding.
  const ttlMs = (iat + maxAge + 1) * 1000 - (options.now !== undefined ? options.now * 1000 : Date.now());
  if (!(await nonces.claimOnce(nonce, Math.max(1000, ttlMs)))) {
    throw new EnvelopeRejected('router signature already used: each signed request is accepted once');
  }
  return claims;
}

function checkEnvelope(
  secret: string,
  req: SignableRequest,
  envelope: unknown,
  {
    now = Math.floor(Date.now() / 1000),
    maxAgeSeconds = ROUTER_ENVELOPE_MAX_AGE_SECONDS,
  }: VerifyEnvelopeOptions,
): { claims: VerifiedClaims | null; iat: number; nonce: string } {
  if (typeof envelope !== 'object' || envelope === null) {
    throw new EnvelopeRejected('missing router signature: subgraphs accept requests from the router only');
  }
  const { claims, iat, nonce, sig } = envelope as Partial<RouterEnvelope>;
  if (
    typeof iat !== 'number' ||
    typeof sig !== 'string' ||
    typeof nonce !== 'string' ||
    !NONCE_PATTERN.test(nonce) ||
    claims === undefined
  ) {
    throw new EnvelopeRejected('malformed router signature');
  }
  if (Math.abs(now - iat) > maxAgeSeconds) throw new EnvelopeRejected('router signature expired');
  const expected = Buffer.from(mac(secret, req, claims, iat, nonce));
  const given = Buffer.from(sig);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw new EnvelopeRejected('router signature does not match');
  }
  return { claims, iat, nonce };
}

export { InMemoryNonceStore, type InMemoryNonceStoreOptions } from './InMemoryNonceStore';
export { holdsCapability, requireTenantCaller, type TenantCaller } from './requireTenantCaller';
