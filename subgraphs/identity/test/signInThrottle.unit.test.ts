import { describe, expect, it } from 'vitest';
import { InMemorySignInAttemptStore, SignInThrottle } from '../src/SignInThrottle';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
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
    const throttle = new SignInThrottle(options);
    const keys = throttle.keys('Acme', ' Alice@X.test ', undefined);
    const delays: number[] = [];
    for (let i = 1; i <= 5; i++) {
      await throttle.check(keys);
      const outcome = await throttle.failed(keys);
      const started = Date.now();
      while ((await codeOf(throttle.check(keys))) === 'RATE_LIMITED') await sleep(5);
      delays.push(Date.now() - started);
      if (i === 5) expect(outcome.lockedOut).toBe('account');
      else expect(outcome.lockedOut).toBeUndefined();
    }
    // free, free, 40, 80, lockout 400 (each measured to within the 5 ms poll and timer slack).
    expect(delays[0]).toBeLessThan(10);
    expect(delays[1]).toBeLessThan(10);
    expect(delays[2]).toBeGreaterThanOrEqual(30);
    expect(delays[3]).toBeGreaterThanOrEqual(70);
    expect(delays[4]).toBeGreaterThanOrEqual(380);
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
    const throttle = new SignInThrottle({ ...options, accountFreeFailures: 0, baseDelayMs: 1_500, maxDelayMs: 2_000 });
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
