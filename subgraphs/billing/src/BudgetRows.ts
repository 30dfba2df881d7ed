import type { BudgetScope } from '@somaagent/ports';

export type BudgetPeriod = 'DAY' | 'MONTH' | 'TOTAL';

export const BUDGET_SCOPES: readonly BudgetScope[] = [
  'TENANT',
  'USER',
  'API_KEY',
  'PERSONA',
  'CAPSULE',
  'PROJECT',
];
export const BUDGET_PERIODS: readonly BudgetPeriod[] = ['DAY', 'MONTH', 'TOTAL'];

/** One row of billing.budgets, amounts as exact JavaScript numbers (selected as float8, all < 2^53). */
export interface BudgetRow {
  id: string;
  scope: BudgetScope;
  scope_id: string;
  period: BudgetPeriod;
  limit_micros: number;
  alert_thresholds: number[];
  period_start: Date;
  posted_micros: number;
  held_micros: number;
  version: number;
  created_by: string;
  created_at: Date;
  updated_at: Date;
  cursor_ts: string;
}

const TS = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export const BUDGET_COLUMNS = `id, scope, scope_id, period, limit_micros::float8 AS limit_micros, alert_thresholds,
  period_start, posted_micros::float8 AS posted_micros, held_micros::float8 AS held_micros, version, created_by,
  created_at, updated_at, ${TS('created_at')} AS cursor_ts`;

export interface HoldRow {
  id: string;
  idempotency_key: string;
  budget_ids: string[];
  amount_micros: number;
  state: 'OPEN' | 'SETTLED' | 'RELEASED' | 'EXPIRED';
  posted_micros: number;
  released_micros: number;
  expires_at: Date;
}

export const HOLD_COLUMNS = `id, idempotency_key, budget_ids::text[] AS budget_ids, amount_micros::float8 AS amount_micros,
  state, posted_micros::float8 AS posted_micros, released_micros::float8 AS released_micros, expires_at`;
