import { describe, expect, it } from 'vitest';
import { InMemorySignInAttemptStore, SignInThrottle } from '../src/SignInThrottle';

const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'OK',
    (e: { code?: string }) => e.code,
  );

describe('SignInThrottle', () => {
  const options = {
    accountFreeFailures: 2,
    accountLockoutFailures: 5,
    ipFreeFailures: 3,
    ipLockoutFailures: 6,
    baseDelayMs: 40,
    maxDelayMs: 100,
    lockoutMs: 400,
    windowMs: 10_000,
  };

  it('backs off exponentially past the free failures, up to the maximum, then locks out', async () => {
    const store = new InMemorySignInAttemptStore();
    const throttle = new SignInThrottle({ ...options, store });
    const keys = throttle.keys('Acme', ' Alice@X.test ', undefined);
    const blocks: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const outcome = await throttle.failed(keys);
      const until = await store.blockedUntil(keys.account);
      blocks.push(until === 0 ? 0 : until - Date.now());
      expect(outcome.lockedOut).toBe(i === 5 ? 'account' : undefined);
    }
    // free, free, 40, 80, then the 100 ms maximum would come: the 5th failure locks out for 400.
    const expected = [0, 0, 40, 80, 400];
    blocks.forEach((ms, i) => {
      expect(ms).toBeLessThanOrEqual(expected[i]!);
      expect(ms).toBeGreaterThan(expected[i]! - 30);
    });
    expect(await codeOf(throttle.check(keys))).toBe('RATE_LIMITED');
  });

  it('keys accounts case- and space-insensitively, and IPs apart from accounts', async () => {
    const throttle = new SignInThrottle(options);
    const a = throttle.keys('acme', 'alice@x.test', '10.0.0.1');
    expect(throttle.keys(' ACME ', 'ALICE@x.test', '10.0.0.2').account).toBe(a.account);
    expect(a.ip).not.toBe(throttle.keys('acme', 'alice@x.test', '10.0.0.2').ip);
    expect(a.account).not.toContain('alice');
  });

  it('an IP backs off across accounts; a success clears the account, not the IP', async () => {
    const throttle = new SignInThrottle(options);
    for (let i = 0; i < 4; i++) await throttle.failed(throttle.keys('acme', `u${i}@x.test`, '10.0.0.9'));
    const next = throttle.keys('acme', 'fresh@x.test', '10.0.0.9');
    expect(await codeOf(throttle.check(next))).toBe('RATE_LIMITED');
    expect(await codeOf(throttle.check(throttle.keys('acme', 'fresh@x.test', '10.0.0.10')))).toBe('OK');
    await throttle.succeeded(next);
    expect(await codeOf(throttle.check(next))).toBe('RATE_LIMITED');
  });

  it('RATE_LIMITED carries retryAfter in whole seconds (at least 1)', async () => {
    const throttle = new SignInThrottle({
      ...options,
      accountFreeFailures: 0,
      baseDelayMs: 1_500,
      maxDelayMs: 2_000,
    });
    const keys = throttle.keys('acme', 'a@x.test', undefined);
    await throttle.failed(keys);
    const error = await throttle.check(keys).catch((e: { extensions: Record<string, unknown> }) => e);
    expect(error).toMatchObject({ extensions: { code: 'RATE_LIMITED', retryAfter: 2 } });
  });

  it('the in-memory store forgets the oldest keys past its bound and refuses bad settings', async () => {
    const store = new InMemorySignInAttemptStore(2);
    await store.addFailure('a', 10_000);
    await store.block('a', Date.now() + 10_000);
    await store.addFailure('b', 10_000);
    await store.addFailure('c', 10_000);
    expect(await store.blockedUntil('a')).toBe(0);
    expect(() => new SignInThrottle({ lockoutMs: -1 })).toThrow(RangeError);
  });
});
