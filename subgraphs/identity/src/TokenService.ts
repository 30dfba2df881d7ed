import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { SomaError } from '@somaagent/errors';
import type { DataScope, EventBus, EventEnvelope, SqlDatabase, SqlExecutor } from '@somaagent/ports';
import { SignJWT } from 'jose';
import { hashApiKeySecret, parseApiKeySecret } from './apiKeySecret';
import type { AccessTokenAuthMethod, AccessTokenClaims } from './claimsFromAccessTokenPayload';
import { type Emit, toUser, transact, USER_COLUMNS, type UserRow } from './identityRows';
import {
  type AccessTokenModel,
  IDENTITY_EVENTS_TOPIC,
  type IdentityEventPayload,
  type IdentityEventType,
} from './models';
import { decoyPasswordHash, verifyPassword } from './passwords';
import type { FailureOutcome, SignInThrottle } from './SignInThrottle';
import type { SigningKeyStore } from './SigningKeyStore';
import { checkCredentialLengths } from './validation';

/** Subject of tokens minted from the platform admin key. */
export const PLATFORM_ADMIN_SUBJECT = 'platform-admin';

export interface TokenServiceOptions {
  db: SqlDatabase;
  events: EventBus;
  keys: SigningKeyStore;
  issuer: string;
  audience: string;
  accessTokenTtlSeconds: number;
  platformAdminKey: string | undefined;
  throttle: SignInThrottle;
}

const sha256 = (value: string) => createHash('sha256').update(value).digest();

/** Scope of the user lookup when the slug names no tenant: a tenant id no row has. */
const NO_TENANT = '00000000-0000-0000-0000-000000000000';
/** `subjectId` of a failed sign-in whose email names no user of the tenant. */
export const UNKNOWN_USER = 'unknown-user';

const SIGN_IN_FAILED = 'sign-in failed: tenant, email or password is wrong';
const API_KEY_REJECTED = 'the API key is invalid or revoked; create a new key with createApiKey';

/**
 * How callers get access tokens: password sign-in (throttled), API key and platform key exchange.
 */
export class TokenService {
  constructor(private readonly o: TokenServiceOptions) {}

  private transact<T>(scope: DataScope, work: (tx: SqlExecutor, emit: Emit) => Promise<T>): Promise<T> {
    return transact(this.o.db, this.o.events, scope, work);
  }

  private async issue(
    tx: SqlExecutor,
    subject: string,
    claims: {
      tenantId: string | null;
      roles: string[];
      caps: string[];
      pa: boolean;
      amr: AccessTokenAuthMethod;
    },
  ): Promise<AccessTokenModel> {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + this.o.accessTokenTtlSeconds;
    const payload: AccessTokenClaims = {
      roles: claims.roles,
      caps: claims.caps,
      pa: claims.pa,
      amr: claims.amr,
    };
    if (claims.tenantId) payload.tid = claims.tenantId;
    const { jwt } = await this.o.keys.sign(
      tx,
      new SignJWT({ ...payload })
        .setIssuer(this.o.issuer)
        .setAudience(this.o.audience)
        .setSubject(subject)
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(exp)
        .setJti(randomUUID()),
    );
    return {
      accessToken: jwt,
      tokenType: 'Bearer',
      expiresIn: this.o.accessTokenTtlSeconds,
      expiresAt: new Date(exp * 1000),
    };
  }

  /**
   * Password sign-in, throttled per account and per client IP (SignInThrottle). Every failure
   * costs the same work whether the tenant, the user or only the password was wrong: one slug
   * lookup, one user query (under a tenant that matches nothing when the slug is unknown) and one
   * scrypt check (against a decoy hash when there is no user), and answers the same error.
   */
  async signIn(
    input: { tenantSlug: string; email: string; password: string },
    request: { clientIp?: string | undefined } = {},
  ): Promise<AccessTokenModel> {
    checkCredentialLengths(input);
    const keys = this.o.throttle.keys(input.tenantSlug, input.email, request.clientIp);
    await this.o.throttle.check(keys);
    const password = input.password.slice(0, 1024);
    const { rows } = await this.o.db.withScope({ tenantId: null }, (tx) =>
      tx.query<{ id: string | null }>('SELECT identity.tenant_id_for_slug($1) AS id', [input.tenantSlug]),
    );
    const tenantId = rows[0]?.id ?? null;
    const email = input.email.trim().toLowerCase();
    const found = await this.o.db.withScope({ tenantId: tenantId ?? NO_TENANT }, (tx) =>
      tx.query<UserRow & { password_hash: string }>(
        `SELECT ${USER_COLUMNS}, t.password_hash FROM identity.users t WHERE t.email = $1`,
        [email],
      ),
    );
    const row = tenantId ? found.rows[0] : undefined;
    const matches = await verifyPassword(password, row?.password_hash ?? (await decoyPasswordHash()));
    if (!tenantId || !row || !matches || row.disabled_at) {
      const outcome = await this.o.throttle.failed(keys);
      if (tenantId) this.auditFailedSignIn(tenantId, row?.id, request.clientIp, outcome);
      throw new SomaError('UNAUTHENTICATED', SIGN_IN_FAILED);
    }
    await this.o.throttle.succeeded(keys);
    const user = toUser(row);
    return this.transact({ tenantId }, async (tx, emit) => {
      emit('SIGNED_IN', tenantId, { subjectId: user.id, actorId: user.id, method: 'password' });
      return this.issue(tx, user.id, {
        tenantId,
        roles: user.roles.map((r) => r.name),
        caps: user.capabilities,
        pa: false,
        amr: 'password',
      });
    });
  }

  /**
   * Not awaited: publishing (to Kafka, say) must not make a failure for an existing tenant slower
   * than one for a slug that does not exist. Unknown tenants have nobody to tell.
   */
  private auditFailedSignIn(
    tenantId: string,
    userId: string | undefined,
    clientIp: string | undefined,
    outcome: FailureOutcome,
  ): void {
    const event = (
      type: IdentityEventType,
      detail: Record<string, unknown>,
    ): EventEnvelope<IdentityEventPayload> => ({
      topic: IDENTITY_EVENTS_TOPIC,
      tenantId,
      type,
      // No email: an unknown one is whatever the client typed (PII, possibly a password).
      payload: {
        subjectId: userId ?? UNKNOWN_USER,
        actorId: 'anonymous',
        clientIp: clientIp ?? null,
        ...detail,
      },
      occurredAt: new Date().toISOString(),
    });
    const events = [
      event('SIGN_IN_FAILED', { accountFailures: outcome.accountFailures, ipFailures: outcome.ipFailures }),
    ];
    if (outcome.lockedOut) events.push(event('SIGN_IN_LOCKED_OUT', { lockedOut: outcome.lockedOut }));
    for (const e of events) {
      this.o.events.publish(e).catch((error: unknown) => {
        console.error(`[identity] could not publish ${e.type} for tenant ${tenantId}`, error);
      });
    }
  }

  async exchangeApiKey(secret: string): Promise<AccessTokenModel> {
    checkCredentialLengths({ secret });
    const adminKey = this.o.platformAdminKey;
    if (adminKey && timingSafeEqual(sha256(secret), sha256(adminKey))) {
      return this.o.db.withScope({ tenantId: null }, (tx) =>
        this.issue(tx, PLATFORM_ADMIN_SUBJECT, {
          tenantId: null,
          roles: [PLATFORM_ADMIN_SUBJECT],
          caps: [],
          pa: true,
          amr: 'platform_key',
        }),
      );
    }
    const parsed = parseApiKeySecret(secret);
    if (!parsed) throw new SomaError('UNAUTHENTICATED', API_KEY_REJECTED);
    const { tenantId, keyId } = parsed;
    return this.transact({ tenantId }, async (tx, emit) => {
      const { rows } = await tx.query<{
        secret_hash: string;
        capabilities: string[];
        revoked_at: Date | null;
      }>('SELECT secret_hash, capabilities, revoked_at FROM identity.api_keys WHERE id = $1', [keyId]);
      const key = rows[0];
      const given = Buffer.from(hashApiKeySecret(secret));
      if (!key || key.revoked_at || !timingSafeEqual(given, Buffer.from(key.secret_hash))) {
        throw new SomaError('UNAUTHENTICATED', API_KEY_REJECTED);
      }
      await tx.query('UPDATE identity.api_keys SET last_used_at = now() WHERE id = $1', [keyId]);
      emit('SIGNED_IN', tenantId, { subjectId: keyId, actorId: keyId, method: 'api_key' });
      return this.issue(tx, keyId, {
        tenantId,
        roles: [],
        caps: key.capabilities,
        pa: false,
        amr: 'api_key',
      });
    });
  }
}
