import type { RateLimiter } from '@somaagent/ports';
import { RedisRateLimiter } from '@somaagent/redis';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { InMemoryRateLimiter } from '../src/InMemoryRateLimiter';

// One table of assertions for every RateLimiter adapter: the embedded in-memory one and Redis
// on the harness's real server (engine `redis`).
const redisUrl = process.env.SOMA_REDIS_URL;
if (!redisUrl) throw new Error('the test harness did not provide the redis engine (SOMA_REDIS_URL)');

interface Subject {
  limiter: RateLimiter;
  /** A second limiter on the same store (another replica), where the adapter has one. */
  replica?: RateLimiter;
  dispose(): Promise<void>;
}

const adapters: [string, () => Promise<Subject>][] = [
  [
    'in-memory',
    async () => {
      const limiter = new InMemoryRateLimiter();
      return { limiter, dispose: () => limiter[Symbol.asyncDispose]() };
    },
  ],
  [
    'redis',
    async () => {
      const clients = [0, 1].map(() => new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 }));
      await Promise.all(clients.map((c) => c.connect()));
      const [limiter, replica] = clients.map((c) => new RedisRateLimiter(c, { keyPrefix: 'contract:rl:' }));
      return {
        limiter: limiter!,
        replica: replica!,
        dispose: async () => {
          await limiter![Symbol.asyncDispose]();
          await replica![Symbol.asyncDispose]();
          for (const c of clients) c.disconnect();
        },
      };
    },
  ],
];

let counter = 0;
const fresh = () => `k-${Date.now()}-${process.pid}-${counter++}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(adapters)('RateLimiter contract: %s', (_name, open) => {
  it('grants up to the limit per window, then refuses with the time until the window ends', async () => {
    const { limiter, dispose } = await open();
    const key = fresh();
    expect(await limiter.consume(key, 3, 5, 10_000)).toEqual({
      allowed: true,
      remaining: 2,
      retryAfterMs: 0,
    });
    expect(await limiter.consume(key, 2, 5, 10_000)).toEqual({
      allowed: true,
      remaining: 0,
      retryAfterMs: 0,
    });
    const refused = await limiter.consume(key, 1, 5, 10_000);
    expect(refused.allowed).toBe(false);
    expect(refused.remaining).toBe(0);
    expect(refused.retryAfterMs).toBeGreaterThan(9_000);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(10_000);
    // Keys are independent.
    expect((await limiter.consume(fresh(), 5, 5, 10_000)).allowed).toBe(true);
    await dispose();
  });

  it('a refused call spends nothing, and a cost that does not fit is refused whole', async () => {
    const { limiter, dispose } = await open();
    const key = fresh();
    expect((await limiter.consume(key, 4, 5, 10_000)).allowed).toBe(true);
    expect((await limiter.consume(key, 2, 5, 10_000)).allowed).toBe(false);
    expect((await limiter.consume(key, 2, 5, 10_000)).allowed).toBe(false);
    expect(await limiter.consume(key, 1, 5, 10_000)).toEqual({
      allowed: true,
      remaining: 0,
      retryAfterMs: 0,
    });
    await dispose();
  });

  it('gives the budget back when the window ends', async () => {
    const { limiter, dispose } = await open();
    const key = fresh();
    expect((await limiter.consume(key, 2, 2, 300)).allowed).toBe(true);
    const refused = await limiter.consume(key, 1, 2, 300);
    expect(refused.allowed).toBe(false);
    await sleep(refused.retryAfterMs + 50);
    expect(await limiter.consume(key, 1, 2, 300)).toEqual({ allowed: true, remaining: 1, retryAfterMs: 0 });
    await dispose();
  });

  it('never grants more than the limit to many parallel callers (and replicas)', async () => {
    const { limiter, replica, dispose } = await open();
    const key = fresh();
    const callers = [limiter, replica ?? limiter];
    const decisions = await Promise.all(
      Array.from({ length: 400 }, (_, i) => callers[i % 2]!.consume(key, 1 + (i % 3), 150, 30_000)),
    );
    const granted = decisions.filter((d) => d.allowed);
    const spent = decisions.reduce((sum, d, i) => sum + (d.allowed ? 1 + (i % 3) : 0), 0);
    expect(spent).toBeLessThanOrEqual(150);
    // Costs are 1–3, so once refusals start at most 2 units can be left unspent.
    expect(spent).toBeGreaterThanOrEqual(148);
    expect(granted.length).toBeLessThan(decisions.length);
    await dispose();
  });

  it('leases: at most `limit` holders; release frees a slot; release is idempotent', async () => {
    const { limiter, dispose } = await open();
    const key = fresh();
    const a = await limiter.acquire(key, 2, 10_000);
    const b = await limiter.acquire(key, 2, 10_000);
    expect(a).not.toBeNull();
    expect(b).not.toBeNull();
    expect(await limiter.acquire(key, 2, 10_000)).toBeNull();
    expect(await limiter.held(key)).toBe(2);
    await a!.release();
    await a!.release();
    expect(await limiter.held(key)).toBe(1);
    const c = await limiter.acquire(key, 2, 10_000);
    expect(c).not.toBeNull();
    expect(await limiter.acquire(key, 2, 10_000)).toBeNull();
    await b!.release();
    await c!.release();
    expect(await limiter.held(key)).toBe(0);
    await dispose();
  });

  it('parallel acquires never hand out more than the limit', async () => {
    const { limiter, replica, dispose } = await open();
    const key = fresh();
    const callers = [limiter, replica ?? limiter];
    const leases = await Promise.all(
      Array.from({ length: 100 }, (_, i) => callers[i % 2]!.acquire(key, 7, 10_000)),
    );
    expect(leases.filter(Boolean)).toHaveLength(7);
    expect(await limiter.held(key)).toBe(7);
    await Promise.all(leases.map((l) => l?.release()));
    expect(await limiter.held(key)).toBe(0);
    await dispose();
  });

  it('a lease that is not renewed lapses after its TTL (a crashed holder frees its slot)', async () => {
    const { limiter, dispose } = await open();
    const key = fresh();
    expect(await limiter.acquire(key, 1, 300, { keepAlive: false })).not.toBeNull();
    expect(await limiter.acquire(key, 1, 300)).toBeNull();
    await sleep(400);
    expect(await limiter.held(key)).toBe(0);
    const next = await limiter.acquire(key, 1, 300);
    expect(next).not.toBeNull();
    await next!.release();
    await dispose();
  });

  it('a kept-alive lease outlives its TTL until it is released', async () => {
    const { limiter, replica, dispose } = await open();
    const key = fresh();
    const lease = await limiter.acquire(key, 1, 300);
    expect(lease).not.toBeNull();
    await sleep(1_000);
    expect(await (replica ?? limiter).acquire(key, 1, 300)).toBeNull();
    expect(await limiter.held(key)).toBe(1);
    await lease!.release();
    expect(await limiter.held(key)).toBe(0);
    await dispose();
  });
});

describe('RateLimiter contract: redis across processes', () => {
  it('a replica that stops renewing (disposed, as a crash would) loses its slots within the TTL', async () => {
    const [, open] = adapters[1]!;
    const { limiter, replica, dispose } = await open();
    const key = fresh();
    expect(await limiter.acquire(key, 1, 400)).not.toBeNull();
    await limiter[Symbol.asyncDispose]();
    expect(await replica!.acquire(key, 1, 400)).toBeNull();
    await sleep(600);
    const taken = await replica!.acquire(key, 1, 400);
    expect(taken).not.toBeNull();
    await taken!.release();
    await dispose();
  });
});
