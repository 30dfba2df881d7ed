import { createHash } from 'node:crypto';
import { SomaError } from '@somaagent/errors';
import type { SignInAttemptStore } from '@somaagent/ports';

/** Failed sign-in throttling; the defaults are documented in docs/security.md §4. */
export interface SignInThrottleOptions {
  /** Failures of one account (tenant slug + email) answered without delay. @default 3 */
  accountFreeFailures?: number;
  /** Failures of one account that lock it out for `lockoutMs`. @default 10 */
  accountLockoutFailures?: number;
  /** Failures from one client IP answered without delay (any accounts). @default 20 */
  ipFreeFailures?: number;
  /** Failures from one client IP that lock that IP out for `lockoutMs`. @default 100 */
  ipLockoutFailures?: number;
  /** Back-off after the first failure past the free ones; doubles with each further failure. @default 1_000 */
  baseDelayMs?: number;
  /** Longest back-off before the lockout. @default 60_000 */
  maxDelayMs?: number;
  /** How long a lockout lasts. @default 900_000 (15 min) */
  lockoutMs?: number;
  /** Failures are forgotten this long after the last one. @default 900_000 (15 min) */
  windowMs?: number;
  /** @default a new InMemorySignInAttemptStore (counters of this process only) */
  store?: SignInAttemptStore;
}

export const DEFAULT_SIGN_IN_THROTTLE = {
  accountFreeFailures: 3,
  accountLockoutFailures: 10,
  ipFreeFailures: 20,
  ipLockoutFailures: 100,
  baseDelayMs: 1_000,
  maxDelayMs: 60_000,
  lockoutMs: 900_000,
  windowMs: 900_000,
} as const;

/** What a failure led to, for the audit trail. */
export interface FailureOutcome {
  accountFailures: number;
  ipFailures: number;
  /** Set when this failure started a lockout. */
  lockedOut: 'account' | 'ip' | undefined;
}

/**
 * Counters per process. Bounded: past `maxKeys` the oldest entries are forgotten (an attacker
 * spraying random emails must not grow memory without limit; the IP counter still holds them).
 */
export class InMemorySignInAttemptStore implements SignInAttemptStore {
  private readonly entries = new Map<string, { failures: number; expiresAt: number; blockedUntil: number }>();
  constructor(private readonly maxKeys = 100_000) {}

  private live(key: string) {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= Date.now() && entry.blockedUntil <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  async addFailure(key: string, windowMs: number): Promise<number> {
    const entry = this.live(key) ?? { failures: 0, expiresAt: 0, blockedUntil: 0 };
    entry.failures += 1;
    entry.expiresAt = Date.now() + windowMs;
    // Re-inserted, so the Map's order is least recently failed first.
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > this.maxKeys) this.entries.delete(this.entries.keys().next().value!);
    return entry.failures;
  }

  async block(key: string, untilMs: number): Promise<void> {
    const entry = this.live(key);
    if (entry) entry.blockedUntil = Math.max(entry.blockedUntil, untilMs);
    else this.entries.set(key, { failures: 0, expiresAt: 0, blockedUntil: untilMs });
  }

  async blockedUntil(key: string): Promise<number> {
    const until = this.live(key)?.blockedUntil ?? 0;
    return until > Date.now() ? until : 0;
  }

  async reset(key: string): Promise<void> {
    this.entries.delete(key);
  }
}

/** Keys are hashed: bounded size, and no email sits in memory or in Redis in clear. */
const keyOf = (kind: 'account' | 'ip', ...parts: string[]) =>
  `signin:${kind}:${createHash('sha256').update(parts.join('\u0000')).digest('base64url')}`;

/**
 * Exponential back-off and a temporary lockout for failed sign-ins, per account and per client
 * IP. Keys are what the client sent (tenant slug + email), whether or not they exist, so the
 * throttle's answers reveal nothing about which accounts exist.
 */
export class SignInThrottle {
  private readonly o: Required<Omit<SignInThrottleOptions, 'store'>>;
  private readonly store: SignInAttemptStore;

  constructor(options: SignInThrottleOptions = {}) {
    const { store, ...rest } = options;
    this.o = { ...DEFAULT_SIGN_IN_THROTTLE, ...rest };
    for (const [name, value] of Object.entries(this.o)) {
      if (!Number.isInteger(value) || value < 0)
        throw new RangeError(`signInThrottle.${name} must be an integer ≥ 0`);
    }
    this.store = store ?? new InMemorySignInAttemptStore();
  }

  keys(tenantSlug: string, email: string, clientIp: string | undefined) {
    return {
      account: keyOf('account', tenantSlug.trim().toLowerCase(), email.trim().toLowerCase()),
      ip: clientIp ? keyOf('ip', clientIp) : undefined,
    };
  }

  /** RATE_LIMITED (with `retryAfter` seconds) while the account or the IP is backed off or locked out. */
  async check(keys: { account: string; ip: string | undefined }): Promise<void> {
    const [account, ip] = await Promise.all([
      this.store.blockedUntil(keys.account),
      keys.ip ? this.store.blockedUntil(keys.ip) : 0,
    ]);
    const until = Math.max(account, ip);
    if (until > Date.now()) {
      const retryAfter = Math.max(1, Math.ceil((until - Date.now()) / 1000));
      throw new SomaError(
        'RATE_LIMITED',
        `too many failed sign-ins; retry in ${retryAfter} s (or ask a tenant admin to check the account)`,
        { retryAfter },
      );
    }
  }

  async failed(keys: { account: string; ip: string | undefined }): Promise<FailureOutcome> {
    const o = this.o;
    const now = Date.now();
    const backOff = async (key: string, failures: number, free: number, lockout: number) => {
      if (failures >= lockout) {
        await this.store.block(key, now + o.lockoutMs);
        return failures === lockout;
      }
      if (failures > free) {
        await this.store.block(key, now + Math.min(o.baseDelayMs * 2 ** (failures - free - 1), o.maxDelayMs));
      }
      return false;
    };
    const accountFailures = await this.store.addFailure(keys.account, o.windowMs);
    const ipFailures = keys.ip ? await this.store.addFailure(keys.ip, o.windowMs) : 0;
    const accountLocked = await backOff(
      keys.account,
      accountFailures,
      o.accountFreeFailures,
      o.accountLockoutFailures,
    );
    const ipLocked = keys.ip
      ? await backOff(keys.ip, ipFailures, o.ipFreeFailures, o.ipLockoutFailures)
      : false;
    return {
      accountFailures,
      ipFailures,
      lockedOut: accountLocked ? 'account' : ipLocked ? 'ip' : undefined,
    };
  }

  /** A correct password clears the account's counter; the IP's stays (one known account must not launder guesses at others). */
  async succeeded(keys: { account: string }): Promise<void> {
    await this.store.reset(keys.account);
  }
}
