import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';

/**
 * The harness Redis (engine `redis`) behaves like the production one as far as SomaAgent relies
 * on it, through the client the product uses (ioredis): password auth, strings, Lua, pub/sub and
 * the SET NX PX lock pattern.
 */
const { url } = inject('redis');
const clients: Redis[] = [];

/** A client that fails fast instead of retrying forever, closed after the suite. */
function connect(target = url, options: RedisOptions = {}): Redis {
  const client = new Redis(target, {
    lazyConnect: true,
    connectTimeout: 5000,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
    ...options,
  });
  client.on('error', () => undefined);
  clients.push(client);
  return client;
}

/** Same host and port, other credentials. */
function withPassword(password: string | undefined): string {
  const parsed = new URL(url);
  parsed.password = password ?? '';
  return parsed.toString();
}

afterAll(() => {
  for (const client of clients) client.disconnect();
});

// The release lock: delete the key only while it still holds our token (never someone else's lock).
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

describe('harness Redis (redis-server) through ioredis', () => {
  it('listens on 127.0.0.1 and accepts the generated password', async () => {
    expect(url).toMatch(/^redis:\/\/:[^@]+@127\.0\.0\.1:\d+$/);
    const redis = connect();
    await redis.connect();
    expect(await redis.ping()).toBe('PONG');
    const info = await redis.info('server');
    expect(info).toMatch(/redis_version:\d+\.\d+/);
    expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
  });

  it('refuses a wrong password and unauthenticated commands', async () => {
    // A client configured with the wrong password: the server answers AUTH with WRONGPASS and
    // ioredis reports it as the connection error, never becoming ready.
    const wrong = connect(withPassword('not-the-password'));
    const errors: Error[] = [];
    wrong.on('error', (error: Error) => errors.push(error));
    await expect(wrong.connect()).rejects.toThrow();
    expect(errors.map((e) => e.message).join('\n')).toMatch(/WRONGPASS/);
    expect(wrong.status).not.toBe('ready');

    // Without a password nothing but AUTH is served; a wrong AUTH is refused, the right one works.
    const anonymous = connect(withPassword(undefined), { enableReadyCheck: false });
    await anonymous.connect();
    await expect(anonymous.get('anything')).rejects.toThrow(/NOAUTH/);
    await expect(anonymous.auth('not-the-password')).rejects.toThrow(/WRONGPASS/);
    await expect(anonymous.get('anything')).rejects.toThrow(/NOAUTH/);
    expect(await anonymous.auth(decodeURIComponent(new URL(url).password))).toBe('OK');
    expect(await anonymous.ping()).toBe('PONG');
  });

  it('stores and reads strings, with expiry', async () => {
    const redis = connect();
    const key = `contract:${randomUUID()}`;
    expect(await redis.set(key, 'héllo ✓', 'PX', 60_000)).toBe('OK');
    expect(await redis.get(key)).toBe('héllo ✓');
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await redis.del(key)).toBe(1);
    expect(await redis.get(key)).toBeNull();
  });

  it('runs a Lua script atomically (EVAL and a defined command via EVALSHA)', async () => {
    const redis = connect();
    const key = `contract:${randomUUID()}`;
    const incrCapped = `local v = redis.call('incr', KEYS[1]) if v > tonumber(ARGV[1]) then redis.call('decr', KEYS[1]) return -1 end return v`;
    expect(await redis.eval(incrCapped, 1, key, 2)).toBe(1);
    redis.defineCommand('incrCapped', { numberOfKeys: 1, lua: incrCapped });
    const custom = redis as Redis & { incrCapped(key: string, cap: number): Promise<number> };
    expect(await custom.incrCapped(key, 2)).toBe(2);
    expect(await custom.incrCapped(key, 2)).toBe(-1);
    expect(await redis.get(key)).toBe('2');
    await expect(redis.eval('return redis.call("nope")', 0)).rejects.toThrow(/Unknown Redis command/i);
    await redis.del(key);
  });

  it('delivers pub/sub messages to a subscriber, in order', async () => {
    const subscriber = connect();
    const publisher = connect();
    const channel = `contract:${randomUUID()}`;
    const received: string[] = [];
    const done = new Promise<void>((resolve) => {
      subscriber.on('message', (from: string, message: string) => {
        if (from !== channel) return;
        received.push(message);
        if (received.length === 3) resolve();
      });
    });
    expect(await subscriber.subscribe(channel)).toBe(1);
    for (const message of ['one', 'two', 'three']) expect(await publisher.publish(channel, message)).toBe(1);
    await done;
    expect(received).toEqual(['one', 'two', 'three']);
    await subscriber.unsubscribe(channel);
    expect(await publisher.publish(channel, 'nobody')).toBe(0);
  });

  it('grants a SET NX PX lock to exactly one of two contending clients, until released or expired', async () => {
    const a = connect();
    const b = connect();
    const key = `contract:lock:${randomUUID()}`;
    const tokenA = randomUUID();
    const tokenB = randomUUID();

    // Both race for the lock many times; each round exactly one wins.
    for (let round = 0; round < 20; round++) {
      const [gotA, gotB] = await Promise.all([
        a.set(key, tokenA, 'PX', 5000, 'NX'),
        b.set(key, tokenB, 'PX', 5000, 'NX'),
      ]);
      const winners = [gotA, gotB].filter((r) => r === 'OK');
      expect(winners).toHaveLength(1);
      expect([gotA, gotB]).toContain(null);
      const [winner, winnerToken, loserToken] = gotA === 'OK' ? [a, tokenA, tokenB] : [b, tokenB, tokenA];
      // The loser cannot release a lock it does not hold; the holder can.
      expect(await winner.eval(RELEASE, 1, key, loserToken)).toBe(0);
      expect(await winner.get(key)).toBe(winnerToken);
      expect(await winner.eval(RELEASE, 1, key, winnerToken)).toBe(1);
    }

    // An abandoned lock expires: the other client gets it after PX.
    expect(await a.set(key, tokenA, 'PX', 150, 'NX')).toBe('OK');
    expect(await b.set(key, tokenB, 'PX', 5000, 'NX')).toBeNull();
    await new Promise((r) => setTimeout(r, 300));
    expect(await b.set(key, tokenB, 'PX', 5000, 'NX')).toBe('OK');
    expect(await b.eval(RELEASE, 1, key, tokenB)).toBe(1);
  });
});
