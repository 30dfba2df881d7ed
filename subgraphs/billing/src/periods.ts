import type { BudgetPeriod } from './BudgetRows';

const DAY_MS = 86_400_000;

/** Start of the UTC day of `at`. */
export const dayStart = (at: Date): Date => new Date(Math.floor(at.getTime() / DAY_MS) * DAY_MS);

/** Start of the UTC month of `at`. */
export const monthStart = (at: Date): Date => new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));

/**
 * Where the period that `at` falls in starts: the UTC day or month; a TOTAL budget's period is
 * the one it began with (`since`) and never ends.
 */
export function currentPeriodStart(period: BudgetPeriod, at: Date, since: Date): Date {
  const start = period === 'DAY' ? dayStart(at) : period === 'MONTH' ? monthStart(at) : since;
  // A clock that went back never reopens an older period.
  return start.getTime() > since.getTime() ? start : since;
}

/** When the period that `at` falls in ends (the next reset); null for TOTAL. */
export function nextReset(period: BudgetPeriod, at: Date): Date | null {
  if (period === 'DAY') return new Date(dayStart(at).getTime() + DAY_MS);
  if (period === 'MONTH') return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1));
  return null;
}
