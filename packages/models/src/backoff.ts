/**
 * Delay before retry `attempt` (0-based): the server's Retry-After when it gave one, else
 * exponential backoff with full jitter (a random point in [0, base·2^attempt], capped), which
 * spreads a thundering herd of clients that failed together.
 */
export function retryDelayMs(
  attempt: number,
  retryAfter: string | null | undefined,
  { baseMs = 250, maxMs = 8_000, random = Math.random, now = Date.now } = {},
): number {
  if (retryAfter) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, maxMs * 4);
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.min(Math.max(0, date - now()), maxMs * 4);
  }
  return Math.floor(random() * Math.min(maxMs, baseMs * 2 ** attempt));
}
