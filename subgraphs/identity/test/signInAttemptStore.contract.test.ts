import type { SignInAttemptStore } from '@somaagent/ports';
import { RedisSignInAttemptStore } from '@somaagent/redis';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { InMemorySignInAttemptStore, SignInThrottle } from '../src/SignInThrottle';

// One table of assertions for every SignInAttemptStore adapter: the embedded in-memory one and
// Redis on the harness's real server (engine `redis`), where two replicas share the counters.
const redisUrl = process.env.SOMA_REDIS_URL;
if (!redisUrl) throw new Error('the test harness did not provide the redis engine (SOMA_REDIS_URL)');

interface Subject {
  store: SignInAttemptStore;
  /** A second store on the same counters (another identity replica), where the adapter has one. */
  replica?: SignInAttemptStore;
  dispose(): Promise<void>;
}

const adapters: [string, () => Promise<Subject>][] = [
  ['in-memory', async () => ({ store: new InMemorySignInAttemptStore(), dispose: async () => {} })],
  [
    'redis',
    async () => {
      const clients = [0, 1].map(() => new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 }));
      await Promise.all(clients.map((c) => c.connect()));
      const [store, replica] = clients.map(
        (c) => new RedisSignInAttemptStore(c, { keyPrefix: 'contract:signin:' }),
      );
      return {
        store: store!,
        replica: replica!,
        dispose: async () => {
          for (const c of clients) c.disconnect();
        },
      };
    },
  ],
];

let counter = 0;
const fresh = () => `k-${Date.now()}-${process.pid}-${counter++}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(adapters)('SignInAttemptStore contract: %s', (_name, open) => {
  it('counts failures per key and forgets them a window after the last one', async () => {
    const { store, dispose } = await open();
    try {
      const [a, b] = [fresh(), fresh()];
      expect(await store.addFailure(a, 300)).toBe(1);
      expect(await store.addFailure(a, 300)).toBe(2);
      expect(await store.addFailure(b, 300)).toBe(1);
      await sleep(450);
      expect(await store.addFailure(a, 300)).toBe(1);
    } finally {
      await dispose();
    }
  });

  it('blocks until a moment, never shortens a longer block, and unblocks by itself', async () => {
    const { store, dispose } = await open();
    try {
      const key = fresh();
      expect(await store.blockedUntil(key)).toBe(0);
      const long = Date.now() + 60_000;
      await store.block(key, long);
      await store.block(key, Date.now() + 1_000);
      expect(await store.blockedUntil(key)).toBe(long);
      const short = fresh();
      await store.block(short, Date.now() + 200);
      expect(await store.blockedUntil(short)).toBeGreaterThan(Date.now());
      await sleep(350);
      expect(await store.blockedUntil(short)).toBe(0);
      // A moment already past blocks nothing.
      await store.block(short, Date.now() - 1_000);
      expect(await store.blockedUntil(short)).toBe(0);
    } finally {
      await dispose();
    }
  });

  it('reset forgets the failures and the block of one key only', async () => {
    const { store, dispose } = await open();
    try {
      const [a, b] = [fresh(), fresh()];
      await store.addFailure(a, 60_000);
      await store.addFailure(b, 60_000);
      await store.block(a, Date.now() + 60_000);
      await store.reset(a);
      expect(await store.blockedUntil(a)).toBe(0);
      expect(await store.addFailure(a, 60_000)).toBe(1);
      expect(await store.addFailure(b, 60_000)).toBe(2);
    } finally {
      await dispose();
    }
  });

  it('replicas share the counters: guesses spread over them are throttled as one', async () => {
    const { store, replica, dispose } = await open();
    try {
      if (!replica) return; // the in-memory store is one process's by design
      const options = { accountFreeFailures: 1, accountLockoutFailures: 4, baseDelayMs: 60_000 };
      const [first, second] = [store, replica].map((s) => new SignInThrottle({ ...options, store: s }));
      const keys = first!.keys(`acme-${fresh()}`, 'victim@acme.test', '203.0.113.9');
      // Alternate replicas, as a load balancer would.
      const outcomes = [];
      for (let i = 0; i < 4; i++) outcomes.push(await [first!, second!][i % 2]!.failed(keys));
      expect(outcomes.map((o) => o.accountFailures)).toEqual([1, 2, 3, 4]);
      expect(outcomes.at(-1)!.lockedOut).toBe('account');
      await expect(first!.check(keys)).rejects.toMatchObject({ code: 'RATE_LIMITED' });
      await expect(second!.check(keys)).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    } finally {
      await dispose();
    }
  });
});
