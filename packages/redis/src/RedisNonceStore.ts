import type { NonceStore } from '@somaagent/ports';
import type { Redis } from 'ioredis';

export interface RedisNonceStoreOptions {
  /** @default 'soma:nonce:' */
  keyPrefix?: string;
}

/**
 * Distributed NonceStore: `SET key 1 NX PX ttl` is atomic in Redis, so of any number of replicas
 * claiming one nonce at once exactly one succeeds, and the key expires by itself.
 */
export class RedisNonceStore implements NonceStore {
  readonly kind = 'redis';
  private readonly prefix: string;

  /** @param redis a connected client, owned by the caller. */
  constructor(
    private readonly redis: Redis,
    options: RedisNonceStoreOptions = {},
  ) {
    this.prefix = options.keyPrefix ?? 'soma:nonce:';
  }

  async claimOnce(nonce: string, ttlMs: number): Promise<boolean> {
    const reply = await this.redis.set(
      `${this.prefix}${nonce}`,
      '1',
      'PX',
      Math.max(1, Math.ceil(ttlMs)),
      'NX',
    );
    return reply === 'OK';
  }

  async [Symbol.asyncDispose](): Promise<void> {
    // The client belongs to the caller.
  }
}
