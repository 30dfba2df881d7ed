import { SomaError } from '@somaagent/errors';

/** Whole seconds a client should wait, never 0 (a `Retry-After: 0` invites an instant retry). */
export const retryAfterSeconds = (retryAfterMs: number) => Math.max(1, Math.ceil(retryAfterMs / 1000));

/**
 * The RATE_LIMITED error: `extensions.retryAfter` in seconds, and over HTTP status 429 with a
 * `Retry-After` header (the gateway takes both from `extensions.http` and strips that key).
 */
export function rateLimited(
  message: string,
  retryAfterMs: number,
  details: { limit: number; scope: string },
  http = true,
): SomaError {
  const retryAfter = retryAfterSeconds(retryAfterMs);
  return new SomaError('RATE_LIMITED', `${message}; retry after ${retryAfter} s`, {
    ...details,
    retryAfter,
    ...(http ? { http: { status: 429, headers: { 'retry-after': String(retryAfter) } } } : {}),
  });
}
