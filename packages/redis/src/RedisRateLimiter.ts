import { randomUUID } from 'node:crypto';
import type { AcquireOptions, RateDecision, RateLease, RateLimiter } from '@somaagent/ports';
import type { Redis } from 'ioredis';

export interface RedisRateLimiterOptions {
  /** @default 'soma:rl:' */
  keyPrefix?: string;
}

// Fixed window in one key: its value is the units spent, its expiry the window's end (Redis's
// clock, so replicas with skewed clocks still agree). A refused call writes nothing.
const CONSUME = `
local cost = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
local used = 0
if ttl > 0 then used = tonumber(redis.call('GET', KEYS[1]) or '0') end
if used + cost > limit then
  if ttl <= 0 then ttl = tonumber(ARGV[3]) end
  return {0, 0, ttl}
end
if ttl > 0 then
  redis.call('INCRBY', KEYS[1], cost)
else
  redis.call('SET', KEYS[1], cost, 'PX', ARGV[3])
end
return {1, limit - used - cost, 0}`;

// Semaphore: a sorted set of lease ids scored by when each lapses (Redis's clock). Lapsed
// leases are dropped before counting, which is what frees the slots of a crashed holder.
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;
const KEEP_KEY = `
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end`;
const ACQUIRE = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])${KEEP_KEY}
return 1`;
const RENEW = `${NOW}
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[2])${KEEP_KEY}
return 1`;
const HELD = `${NOW}
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')`;

/**
 * Distributed RateLimiter on Redis: every decision is one Lua script, so replicas sharing the
 * server share the budgets and can never grant more than the limit between them.
 */
export class RedisRateLimiter implements RateLimiter {
  readonly kind = 'redis';
  private readonly prefix: string;
  private readonly renewals = new Set<NodeJS.Timeout>();

  /** @param redis a connected client (shared; this adapter never closes it). */
  constructor(
    private readonly redis: Redis,
    options: RedisRateLimiterOptions = {},
  ) {
    this.prefix = options.keyPrefix ?? 'soma:rl:';
  }

  async consume(key: string, cost: number, limit: number, windowMs: number): Promise<RateDecision> {
    const [allowed, remaining, retryAfterMs] = (await this.redis.eval(
      CONSUME,
      1,
      `${this.prefix}w:${key}`,
      String(cost),
      String(limit),
      String(windowMs),
    )) as [number, number, number];
    return { allowed: allowed === 1, remaining, retryAfterMs };
  }

  async acquire(
    key: string,
    limit: number,
    ttlMs: number,
    options: AcquireOptions = {},
  ): Promise<RateLease | null> {
    const set = `${this.prefix}s:${key}`;
    const id = randomUUID();
    const ttl = String(Math.max(1, Math.ceil(ttlMs)));
    const granted = await this.redis.eval(ACQUIRE, 1, set, ttl, id, String(limit));
    if (granted !== 1) return null;
    let timer: NodeJS.Timeout | undefined;
    if (options.keepAlive !== false) {
      timer = setInterval(
        () => {
          this.redis.eval(RENEW, 1, set, ttl, id).then(
            (renewed) => {
              // Lapsed anyway (the server was unreachable for longer than the TTL): the slot
              // is no longer counted, so renewing it would only count it again by surprise.
              if (renewed !== 1) stop();
            },
            () => undefined, // a failed renewal is retried at the next tick
          );
        },
        Math.max(1, Math.floor(ttlMs / 3)),
      );
      timer.unref();
      this.renewals.add(timer);
    }
    const stop = () => {
      if (!timer) return;
      clearInterval(timer);
      this.renewals.delete(timer);
      timer = undefined;
    };
    let released = false;
    return {
      key,
      release: async () => {
        if (released) return;
        released = true;
        stop();
        await this.redis.zrem(set, id);
      },
    };
  }

  async held(key: string): Promise<number> {
    return Number(await this.redis.eval(HELD, 1, `${this.prefix}s:${key}`));
  }

  /** Stops renewing held leases (they lapse within their TTL); the client stays open. */
  async [Symbol.asyncDispose](): Promise<void> {
    for (const timer of this.renewals) clearInterval(timer);
    this.renewals.clear();
  }
}
