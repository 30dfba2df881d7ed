/**
 * Where failed sign-in counters live. The in-memory store is per process; a deployment with
 * several identity replicas passes a shared store (Redis) so an attacker cannot spread guesses
 * over them.
 */
export interface SignInAttemptStore {
  /** Adds one failure to `key` (forgotten `windowMs` after the last one); returns the count. */
  addFailure(key: string, windowMs: number): Promise<number>;
  /** Refuses sign-ins for `key` until `untilMs` (epoch ms); never shortens a longer block. */
  block(key: string, untilMs: number): Promise<void>;
  /** Epoch ms until which `key` is blocked, or 0. */
  blockedUntil(key: string): Promise<number>;
  /** Forgets the failures and block of `key` (a successful sign-in). */
  reset(key: string): Promise<void>;
}
