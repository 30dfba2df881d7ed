/**
 * Counters for quotas and rate limits, shared by every replica that uses the same store.
 * Embedded: in memory (one process). Distributed: Redis, so two routers behind one load
 * balancer spend one budget between them.
 *
 * Two primitives:
 * - `consume`: a fixed-window budget. Each key has at most `limit` units per window; the window
 *   starts with the first unit spent after the previous window ended. A refused call spends
 *   nothing, so a client that keeps hammering still gets its budget back when the window ends.
 * - `acquire`: a counting semaphore with leases (concurrent generations, open WebSockets). A
 *   lease expires `ttlMs` after it was last renewed, so a holder that crashed cannot keep a slot.
 */
export interface RateLimiter extends AsyncDisposable {
  readonly kind: string;
  /**
   * Spends `cost` units of `key`'s budget of `limit` units per `windowMs`, atomically: however
   * many replicas call at once, no window ever grants more than `limit` units.
   */
  consume(key: string, cost: number, limit: number, windowMs: number): Promise<RateDecision>;
  /**
   * Takes one of `limit` slots of `key`, or answers null when all are held. The lease is
   * renewed by the adapter every `ttlMs / 3` until released (`keepAlive: false`: never renewed,
   * it simply lapses after `ttlMs`). A process that dies stops renewing, so its slots free
   * themselves within `ttlMs`.
   */
  acquire(key: string, limit: number, ttlMs: number, options?: AcquireOptions): Promise<RateLease | null>;
  /** Slots of `key` held right now (expired leases excluded). */
  held(key: string): Promise<number>;
}

export interface RateDecision {
  allowed: boolean;
  /** Units left in the current window after this call (0 when refused). */
  remaining: number;
  /** When refused: milliseconds until the window ends and the budget is back. 0 when allowed. */
  retryAfterMs: number;
}

export interface AcquireOptions {
  /** Renew the lease until it is released. @default true */
  keepAlive?: boolean;
}

export interface RateLease {
  readonly key: string;
  /** Gives the slot back (idempotent). */
  release(): Promise<void>;
}
