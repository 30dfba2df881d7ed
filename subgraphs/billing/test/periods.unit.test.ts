import { describe, expect, it } from 'vitest';
import { currentPeriodStart, nextReset } from '../src/periods';

const at = (iso: string) => new Date(iso);

describe('budget periods (UTC)', () => {
  it('DAY starts at 00:00 UTC and resets at the next midnight', () => {
    const now = at('2026-02-28T23:59:59.999Z');
    expect(currentPeriodStart('DAY', now, at('2026-02-01T00:00:00Z')).toISOString()).toBe(
      '2026-02-28T00:00:00.000Z',
    );
    expect(nextReset('DAY', now)?.toISOString()).toBe('2026-03-01T00:00:00.000Z');
  });

  it('MONTH starts on the 1st and resets on the next 1st, across years and leap days', () => {
    expect(
      currentPeriodStart('MONTH', at('2028-02-29T12:00:00Z'), at('2028-01-05T00:00:00Z')).toISOString(),
    ).toBe('2028-02-01T00:00:00.000Z');
    expect(nextReset('MONTH', at('2026-12-31T23:00:00Z'))?.toISOString()).toBe('2027-01-01T00:00:00.000Z');
  });

  it('TOTAL never resets; a clock that went back never reopens an older period', () => {
    const since = at('2026-05-14T10:00:00Z');
    expect(currentPeriodStart('TOTAL', at('2030-01-01T00:00:00Z'), since)).toEqual(since);
    expect(nextReset('TOTAL', at('2030-01-01T00:00:00Z'))).toBeNull();
    expect(currentPeriodStart('DAY', at('2026-05-13T10:00:00Z'), since)).toEqual(since);
  });
});
