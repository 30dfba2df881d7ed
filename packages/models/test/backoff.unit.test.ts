import { describe, expect, it } from 'vitest';
import { retryDelayMs } from '../src/backoff';

describe('retryDelayMs', () => {
  it('honours Retry-After in seconds and as an HTTP date', () => {
    expect(retryDelayMs(0, '2')).toBe(2000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryDelayMs(0, 'Thu, 01 Jan 2026 00:00:03 GMT', { now: () => now })).toBe(3000);
  });
  it('backs off exponentially with full jitter, capped', () => {
    expect(retryDelayMs(0, null, { random: () => 0.999 })).toBe(249);
    expect(retryDelayMs(3, null, { random: () => 0.999 })).toBe(1998);
    expect(retryDelayMs(10, null, { random: () => 0.999 })).toBe(7992);
    expect(retryDelayMs(3, null, { random: () => 0 })).toBe(0);
  });
});
