import type { NonceStore } from '@somaagent/ports';
import { RedisNonceStore } from '@somaagent/redis';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { InMemoryNonceStore } from '../src/InMemoryNonceStore';

// One table of assertions for every NonceStore adapter: the embedded in-memory store and Redis
// (`SET NX PX`) on the harness's real Redis server (engine `redis`).
const redisUrl = process.env.SOMA_REDIS_URL;
if (!redisUrl) throw new Error('the test harness did not provide the redis engine (SOMA_REDIS_URL)');

interface Subject {
  store: NonceStore;
  /** A second handle on the same store, as another replica would hold it. */
  replica: NonceStore;
  dispose(): Promise<void>;
}

const adapters: [string, () => Promise<Subject>][] = [
  [
    'in-memory',
    async () => {
      const store = new InMemoryNonceStore();
      return { store, replica: store, dispose: () => store[Symbol.asyncDispose]() };
    },
  ],
  [
    'redis',
    async () => {
      const connect = async () => {
        const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
        await redis.connect();
        return redis;
      };
      const [a, b] = [await connect(), await connect()];
      const prefix = `soma:nonce-contract:${process.pid}:${Date.now()}:`;
      return {
        store: new RedisNonceStore(a, { keyPrefix: prefix }),
        replica: new RedisNonceStore(b, { keyPrefix: prefix }),
        dispose: async () => {
          a.disconnect();
          b.disconnect();
        },
      };
    },
  ],
];

let counter = 0;
const fresh = () => `nonce-${Date.now()}-${process.pid}-${counter++}`;

describe.each(adapters)('NonceStore contract: %s', (_name, open) => {
  it('accepts a nonce once, refuses it again while it lives', async () => {
    const { store, dispose } = await open();
    const nonce = fresh();
    expect(await store.claimOnce(nonce, 10_000)).toBe(true);
    expect(await store.claimOnce(nonce, 10_000)).toBe(false);
    expect(await store.claimOnce(nonce, 10_000)).toBe(false);
    expect(await store.claimOnce(fresh(), 10_000)).toBe(true);
    await dispose();
  });

  it('a nonce spent through one handle is refused through another (another replica)', async () => {
    const { store, replica, dispose } = await open();
    const nonce = fresh();
    expect(await store.claimOnce(nonce, 10_000)).toBe(true);
    expect(await replica.claimOnce(nonce, 10_000)).toBe(false);
    await dispose();
  });

  it('of concurrent claims of one nonce exactly one wins', async () => {
    const { store, replica, dispose } = await open();
    const nonce = fresh();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => (i % 2 ? store : replica).claimOnce(nonce, 10_000)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    await dispose();
  });

  it('forgets a nonce after its time to live', async () => {
    const { store, dispose } = await open();
    const nonce = fresh();
    expect(await store.claimOnce(nonce, 150)).toBe(true);
    expect(await store.claimOnce(nonce, 150)).toBe(false);
    await new Promise((r) => setTimeout(r, 300));
    expect(await store.claimOnce(nonce, 150)).toBe(true);
    await dispose();
  });
});

describe('InMemoryNonceStore bound', () => {
  it('refuses new nonces when full rather than forgetting a live one', async () => {
    const store = new InMemoryNonceStore({ maxEntries: 3 });
    for (const n of ['a', 'b', 'c']) expect(await store.claimOnce(n, 10_000)).toBe(true);
    expect(await store.claimOnce('d', 10_000)).toBe(false);
    expect(await store.claimOnce('a', 10_000)).toBe(false);
  });
});
