import type { NonceStore } from '@somaagent/ports';

export interface InMemoryNonceStoreOptions {
  /**
   * Nonces remembered at most. Past it a claim is refused (fail closed) rather than forgetting a
   * live nonce, which would let its request be replayed.
   * @default 1_000_000 (docs/security.md §6 gives its memory and the request rate it covers)
   */
  maxEntries?: number;
}

/**
 * Embedded NonceStore: one process, in memory. Entries are kept in insertion order; since every
 * caller uses about the same time to live, that is also expiry order, so expired ones are
 * dropped from the front on each claim (amortised constant time, no timer).
 */
export class InMemoryNonceStore implements NonceStore {
  readonly kind = 'in-memory';
  private readonly expiries = new Map<string, number>();
  private readonly maxEntries: number;

  constructor(options: InMemoryNonceStoreOptions = {}) {
    this.maxEntries = options.maxEntries ?? 1_000_000;
  }

  async claimOnce(nonce: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    for (const [key, expiry] of this.expiries) {
      if (expiry > now) break;
      this.expiries.delete(key);
    }
    const known = this.expiries.get(nonce);
    if (known !== undefined && known > now) return false;
    if (this.expiries.size >= this.maxEntries) return false;
    // Re-inserting moves the key to the end, keeping the map in expiry order.
    this.expiries.delete(nonce);
    this.expiries.set(nonce, now + ttlMs);
    return true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.expiries.clear();
  }
}
