import { effectivePosted } from './BudgetLedger';
import type { BudgetRow } from './BudgetRows';
import { currentPeriodStart, nextReset } from './periods';

/** A budget as the graph shows it, as of `now` (a period that has ended shows from zero). */
export interface BudgetModel {
  id: string;
  scope: BudgetRow['scope'];
  scopeId: string | null;
  period: BudgetRow['period'];
  limitMicros: number;
  postedMicros: number;
  heldMicros: number;
  remainingMicros: number;
  alertThresholds: number[];
  alertsReached: number[];
  periodStart: string;
  resetsAt: string | null;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export function toBudget(row: BudgetRow, now: Date): BudgetModel {
  const posted = effectivePosted(row, now);
  const used = posted + row.held_micros;
  return {
    id: row.id,
    scope: row.scope,
    scopeId: row.scope === 'TENANT' ? null : row.scope_id,
    period: row.period,
    limitMicros: row.limit_micros,
    postedMicros: posted,
    heldMicros: row.held_micros,
    remainingMicros: Math.max(0, row.limit_micros - used),
    alertThresholds: row.alert_thresholds,
    alertsReached: row.alert_thresholds.filter((t) => used * 100 >= t * row.limit_micros),
    periodStart: currentPeriodStart(row.period, now, row.period_start).toISOString(),
    resetsAt: nextReset(row.period, now)?.toISOString() ?? null,
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}
