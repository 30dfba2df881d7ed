import { SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { TenantRoleDirectory } from '@somaagent/ports';
import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JWTHeaderParameters,
  type JWTPayload,
  jwtVerify,
} from 'jose';

/** One issuer whose tokens the router accepts. */
export interface TrustedIssuer {
  /** Exact `iss` value. */
  issuer: string;
  /** Where the public keys are. Omit to discover them from `${issuer}/.well-known/openid-configuration`. */
  jwksUrl?: string;
  /** Accepted `aud` values. */
  audience: string | string[];
  /**
   * Asymmetric algorithms only: a token signed with HS256 against a published public key, or
   * `alg: none`, is refused before any key is looked at.
   * @default ['ES256', 'RS256', 'EdDSA', 'PS256']
   */
  algorithms?: string[];
  /**
   * Required `typ` header (RFC 8725 §3.11), compared case-insensitively with any `application/`
   * prefix removed, e.g. `'at+jwt'` for RFC 9068 access tokens (SomaAgent's own and
   * oidc-provider's). Unset: `typ` is not checked (Keycloak, for one, writes `JWT`).
   */
  typ?: string;
  /**
   * Longest lifetime accepted, in seconds: `exp − iat`, or `exp − now` when the token has no
   * `iat`. A stolen token is only as dangerous as it is long-lived, so an issuer misconfigured
   * to mint day-long or permanent tokens is refused rather than trusted.
   * @default 86_400 (24 h)
   */
  maxTokenLifetimeSeconds?: number;
  /**
   * Whether a token of this issuer was revoked after it was issued (an API key revoked, a user
   * disabled, a role removed). Asked on EVERY use of a token, reused verifications included, so a
   * revocation takes effect at once; it must be cheap (an in-memory or Redis lookup). Unset:
   * tokens are valid until they expire.
   */
  isRevoked?: (token: RevocableToken) => boolean | Promise<boolean>;
  /**
   * Turns a verified payload into the claims subgraphs receive. Throwing (or rejecting) refuses
   * the token with 401 and the error's message. `services` are what the composition root lends
   * the mapping ({@link withRoleDirectory}).
   */
  toClaims: (
    payload: JWTPayload,
    issuer: string,
    header: JWTHeaderParameters,
    services?: ClaimsServices,
  ) => VerifiedClaims | Promise<VerifiedClaims>;
}

/** What the composition root lends an issuer's claim mapping. */
export interface ClaimsServices {
  /** Resolves tenant roles to their capabilities; without it, a binding that names roles refuses its tokens. */
  roles?: TenantRoleDirectory;
}

/**
 * The issuer with its claim mapping lent the tenant role directory (the identity domain's), so
 * the roles an external issuer's binding names grant what they grant in the tenant. The
 * composition root does this for every external issuer.
 */
export function withRoleDirectory(issuer: TrustedIssuer, roles: TenantRoleDirectory): TrustedIssuer {
  const { toClaims } = issuer;
  return { ...issuer, toClaims: (payload, iss, header) => toClaims(payload, iss, header, { roles }) };
}

/** What a revocation check sees of a verified token. */
export interface RevocableToken {
  /** The claims' subject (user id, API-key id, namespaced external subject). */
  subject: string;
  /** `iat` (seconds), or undefined when the token has none. */
  issuedAt: number | undefined;
  /** `jti`, when the token has one. */
  tokenId: string | undefined;
}

export interface TokenVerifier {
  verify(token: string): Promise<VerifiedClaims>;
}

export interface TokenVerifierOptions {
  /**
   * How long a verified token's claims are reused without verifying it again (ms; never past its
   * `exp`; 0 = verify every request). A signature check costs ~0.5 ms of the router's event loop
   * per request (bench/sessions trace), and a token's signature and claims cannot change. The
   * cost: a token signed with a key its issuer has since withdrawn from its JWKS stays accepted
   * this long. Revocation ({@link TrustedIssuer.isRevoked}) is checked on every use regardless.
   * @default 60_000
   */
  reuseVerifiedForMs?: number;
  /** At most this many verified tokens are remembered (oldest forgotten first). @default 10_000 */
  maxReusedTokens?: number;
  /** Clock skew allowed on `exp`, `nbf` and `iat`, in seconds. @default 5 */
  clockToleranceSeconds?: number;
}

/** A verified token as remembered for reuse. */
interface Verified {
  claims: VerifiedClaims;
  /** Reused until then (epoch ms). */
  until: number;
  isRevoked: TrustedIssuer['isRevoked'];
  revocable: RevocableToken;
}

/** Default of {@link TrustedIssuer.maxTokenLifetimeSeconds}. */
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 86_400;

/** `typ` as RFC 8725 compares it: case-insensitive, `application/` optional. */
const normaliseTyp = (typ: string) => typ.toLowerCase().replace(/^application\//, '');

const DEFAULT_ALGORITHMS = ['ES256', 'RS256', 'EdDSA', 'PS256'];

const unauthenticated = (message: string) =>
  new SomaError('UNAUTHENTICATED', message, { http: { status: 401 } });

/** Maps jose's failure classes to messages that tell the caller what to fix. */
function explain(error: unknown): SomaError {
  if (error instanceof SomaError) return error;
  if (error instanceof errors.JWTExpired)
    return unauthenticated('token expired: sign in again for a new one');
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return unauthenticated('token is not yet valid (nbf is in the future)');
    if (error.claim === 'exp') return unauthenticated('token has no expiry (exp); tokens must expire');
    return unauthenticated(`token claim "${error.claim}" is invalid: ${error.reason}`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return unauthenticated('token algorithm is not allowed');
  if (error instanceof errors.JWKSNoMatchingKey)
    return unauthenticated('token signed with an unknown key (kid)');
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return unauthenticated('token signature is invalid');
  if (error instanceof errors.JWKSTimeout || !(error instanceof errors.JOSEError)) {
    return new SomaError('UNAVAILABLE', 'could not reach the token issuer to verify the token; retry', {
      http: { status: 503 },
    });
  }
  return unauthenticated('token is invalid');
}

/**
 * Verifies bearer tokens once per request with jose: issuer, audience, expiry (required),
 * not-before, and an asymmetric algorithm allowlist. Keys come from each issuer's JWKS, cached
 * and re-fetched when a token names an unknown `kid`, which is what makes key rotation seamless.
 */
export function createTokenVerifier(
  issuers: readonly TrustedIssuer[],
  options: TokenVerifierOptions = {},
): TokenVerifier {
  const reuseMs = options.reuseVerifiedForMs ?? 60_000;
  const maxReused = options.maxReusedTokens ?? 10_000;
  const tolerance = options.clockToleranceSeconds ?? 5;
  /** Tokens verified lately → their claims, and until when they may be reused (ms). */
  const verified = new Map<string, Verified>();
  for (const { issuer, maxTokenLifetimeSeconds: max } of issuers) {
    if (max !== undefined && !(Number.isInteger(max) && max > 0))
      throw new RangeError(`maxTokenLifetimeSeconds of ${issuer} must be a positive integer`);
  }
  const byIssuer = new Map(
    issuers.map((config) => {
      let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
      const keys = async () => {
        if (jwks) return jwks;
        let url = config.jwksUrl;
        if (!url) {
          const res = await fetch(`${config.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
          if (!res.ok) throw new Error(`OIDC discovery for ${config.issuer} answered ${res.status}`);
          url = ((await res.json()) as { jwks_uri: string }).jwks_uri;
        }
        jwks = createRemoteJWKSet(new URL(url), { cooldownDuration: 5_000, cacheMaxAge: 600_000 });
        return jwks;
      };
      return [config.issuer, { config, keys }] as const;
    }),
  );

  return {
    async verify(token) {
      let known = verified.get(token);
      if (known && Date.now() >= known.until) {
        verified.delete(token);
        known = undefined;
      }
      const fresh = known ?? (await verifyNow(token));
      if (fresh.isRevoked && (await fresh.isRevoked(fresh.revocable))) {
        verified.delete(token);
        throw new SomaError(
          'UNAUTHENTICATED',
          'token was revoked (API key revoked, user disabled or roles changed): sign in again',
          { http: { status: 401 }, revoked: true },
        );
      }
      if (!known && reuseMs > 0) {
        // Never past the token's own expiry (without jose's clock tolerance: stricter, not looser).
        fresh.until = Math.min(Date.now() + reuseMs, fresh.claims.expiresAt * 1000);
        verified.set(token, fresh);
        if (verified.size > maxReused) verified.delete(verified.keys().next().value!);
      }
      return fresh.claims;
    },
  };

  async function verifyNow(token: string): Promise<Verified> {
    let issuer: string | undefined;
    try {
      const header = decodeProtectedHeader(token);
      if (!header.alg || header.alg === 'none')
        throw unauthenticated('unsigned tokens (alg: none) are refused');
      issuer = decodeJwt(token).iss;
    } catch (error) {
      if (error instanceof SomaError) throw error;
      throw unauthenticated('token is not a well-formed JWT');
    }
    const entry = issuer ? byIssuer.get(issuer) : undefined;
    if (!entry) throw unauthenticated(`token issuer ${JSON.stringify(issuer ?? null)} is not trusted`);
    const { config } = entry;
    let payload: JWTPayload;
    let header: JWTHeaderParameters;
    try {
      ({ payload, protectedHeader: header } = await jwtVerify(token, await entry.keys(), {
        issuer: config.issuer,
        audience: config.audience,
        algorithms: config.algorithms ?? DEFAULT_ALGORITHMS,
        requiredClaims: ['exp'],
        clockTolerance: tolerance,
      }));
    } catch (error) {
      throw explain(error);
    }
    checkHygiene(config, header, payload);
    try {
      const claims = await config.toClaims(payload, config.issuer, header);
      return {
        claims,
        until: 0,
        isRevoked: config.isRevoked,
        revocable: {
          subject: claims.subject,
          issuedAt: typeof payload.iat === 'number' ? payload.iat : undefined,
          tokenId: typeof payload.jti === 'string' ? payload.jti : undefined,
        },
      };
    } catch (error) {
      if (error instanceof SomaError) throw error;
      throw unauthenticated(`token claims are not usable: ${(error as Error).message}`);
    }
  }

  /** What jose leaves to the caller: `typ`, the lifetime bound and an `iat` from the future. */
  function checkHygiene(config: TrustedIssuer, header: JWTHeaderParameters, payload: JWTPayload): void {
    if (config.typ !== undefined) {
      const typ = typeof header.typ === 'string' ? normaliseTyp(header.typ) : undefined;
      if (typ !== normaliseTyp(config.typ)) {
        throw unauthenticated(
          `token type (typ header) must be "${config.typ}", got ${JSON.stringify(header.typ ?? null)}: send an access token, not an ID or other token`,
        );
      }
    }
    const now = Math.floor(Date.now() / 1000);
    const exp = payload.exp as number;
    if (payload.iat !== undefined && payload.iat > now + tolerance) {
      throw unauthenticated(
        'token was issued in the future (iat is ahead of the clock); check the issuer clock',
      );
    }
    const max = config.maxTokenLifetimeSeconds ?? DEFAULT_MAX_TOKEN_LIFETIME_SECONDS;
    const lifetime = exp - (payload.iat ?? now);
    if (lifetime > max) {
      throw unauthenticated(
        `token lifetime ${lifetime} s exceeds the ${max} s this issuer is allowed; issue shorter-lived tokens`,
      );
    }
  }
}
