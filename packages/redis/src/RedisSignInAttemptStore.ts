import type { SignInAttemptStore } from '@somaagent/ports';
import type { Redis } from 'ioredis';

export interface RedisSignInAttemptStoreOptions {
  /** @default 'soma:signin:' */
  keyPrefix?: string;
}

// Failures: a counter whose expiry moves with each failure. Block: the epoch ms it lasts until,
// expiring then; raised, never lowered, in one script so concurrent replicas cannot shorten it.
const ADD_FAILURE = `
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n`;
const BLOCK = `
local blocked_until = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if blocked_until > current then
  local ttl = blocked_until - tonumber(ARGV[2])
  if ttl > 0 then redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl) end
end
return 1`;

/**
 * Distributed SignInAttemptStore: every identity replica counts the same failures, so guesses
 * spread over replicas are throttled as if one answered them all. Keys arrive hashed
 * (SignInThrottle), so no email or IP is stored in clear.
 */
export class RedisSignInAttemptStore implements SignInAttemptStore {
  readonly kind = 'redis';
  private readonly prefix: string;

  /** @param redis a connected client, owned by the caller. */
  constructor(
    private readonly redis: Redis,
    options: RedisSignInAttemptStoreOptions = {},
  ) {
    this.prefix = options.keyPrefix ?? 'soma:signin:';
  }

  async addFailure(key: string, windowMs: number): Promise<number> {
    const count = await this.redis.eval(
      ADD_FAILURE,
      1,
      `${this.prefix}${key}:failures`,
      Math.max(1, Math.ceil(windowMs)),
    );
    return Number(count);
  }

  async block(key: string, untilMs: number): Promise<void> {
    await this.redis.eval(BLOCK, 1, `${this.prefix}${key}:blocked`, Math.ceil(untilMs), Date.now());
  }

  async blockedUntil(key: string): Promise<number> {
    const until = Number((await this.redis.get(`${this.prefix}${key}:blocked`)) ?? 0);
    return until > Date.now() ? until : 0;
  }

  async reset(key: string): Promise<void> {
    await this.redis.del(`${this.prefix}${key}:failures`, `${this.prefix}${key}:blocked`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    // The client belongs to the caller.
  }
}
