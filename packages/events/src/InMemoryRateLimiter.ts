import type { AcquireOptions, RateDecision, RateLease, RateLimiter } from '@somaagent/ports';

interface Window {
  used: number;
  endsAt: number;
}

/** Lease id → when it lapses (Infinity while kept alive: this process is its only holder). */
type Slots = Map<number, number>;

/**
 * Embedded RateLimiter: counters and semaphores in this process's memory. Every call is
 * synchronous inside, so concurrent callers on the one event loop cannot interleave.
 */
export class InMemoryRateLimiter implements RateLimiter {
  readonly kind = 'in-memory';
  private readonly windows = new Map<string, Window>();
  private readonly semaphores = new Map<string, Slots>();
  private readonly sweeper: NodeJS.Timeout;
  private nextLease = 1;

  constructor() {
    // Ended windows and lapsed leases are dropped here, so idle keys do not accumulate.
    this.sweeper = setInterval(() => this.sweep(), 30_000);
    this.sweeper.unref();
  }

  async consume(key: string, cost: number, limit: number, windowMs: number): Promise<RateDecision> {
    const now = Date.now();
    let window = this.windows.get(key);
    if (!window || window.endsAt <= now) {
      window = { used: 0, endsAt: now + windowMs };
      this.windows.set(key, window);
    }
    if (window.used + cost > limit) {
      return { allowed: false, remaining: 0, retryAfterMs: window.endsAt - now };
    }
    window.used += cost;
    return { allowed: true, remaining: limit - window.used, retryAfterMs: 0 };
  }

  async acquire(
    key: string,
    limit: number,
    ttlMs: number,
    options: AcquireOptions = {},
  ): Promise<RateLease | null> {
    const slots = this.live(key);
    if (slots.size >= limit) return null;
    const id = this.nextLease++;
    slots.set(id, options.keepAlive === false ? Date.now() + ttlMs : Number.POSITIVE_INFINITY);
    this.semaphores.set(key, slots);
    return {
      key,
      release: async () => {
        const held = this.semaphores.get(key);
        held?.delete(id);
        if (held?.size === 0) this.semaphores.delete(key);
      },
    };
  }

  async held(key: string): Promise<number> {
    return this.live(key).size;
  }

  /** The key's slots without the lapsed ones. */
  private live(key: string): Slots {
    const slots = this.semaphores.get(key) ?? new Map<number, number>();
    const now = Date.now();
    for (const [id, lapsesAt] of slots) if (lapsesAt <= now) slots.delete(id);
    return slots;
  }

  private sweep() {
    const now = Date.now();
    for (const [key, window] of this.windows) if (window.endsAt <= now) this.windows.delete(key);
    for (const key of this.semaphores.keys()) if (this.live(key).size === 0) this.semaphores.delete(key);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    clearInterval(this.sweeper);
    this.windows.clear();
    this.semaphores.clear();
  }
}
