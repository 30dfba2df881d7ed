import { randomUUID } from 'node:crypto';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { SqlDatabase, SqlExecutor } from '@somaagent/ports';
import { PgliteSqlDatabase } from '@somaagent/postgres';
import { createTestDatabase } from '../../../tests/support/postgres';
import { billingMigrations } from '../src/index';

export interface Adapter {
  name: string;
  open(): Promise<SqlDatabase>;
}

/**
 * The embedded database and the harness's PostgreSQL server: every billing contract runs on both.
 * The server gets 10 connections so concurrent holds really run at once and contend for rows.
 */
export const adapters: Adapter[] = [
  { name: 'pglite', open: () => PgliteSqlDatabase.open() },
  { name: 'postgres', open: () => createTestDatabase({ appPoolMax: 10 }) },
];

export async function openMigrated(adapter: Adapter): Promise<SqlDatabase> {
  const db = await adapter.open();
  await db.migrate(billingMigrations);
  return db;
}

/** A clock tests move by hand (hold expiry, period resets). */
export function manualClock(start = new Date('2026-03-31T23:00:00.000Z')) {
  let now = start.getTime();
  return {
    now: () => new Date(now),
    advance(ms: number) {
      now += ms;
    },
  };
}

export function claimsFor(
  tenantId: string,
  subject: string,
  capabilities: string[] = ['billing:budgets:read', 'billing:budgets:write'],
  authMethod: VerifiedClaims['authMethod'] = 'password',
): VerifiedClaims {
  return {
    subject,
    tenantId,
    roles: [],
    capabilities,
    platformAdmin: false,
    issuer: 'https://tests.somaagent.invalid',
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
    authMethod,
  };
}

export const newTenant = () => randomUUID();

/** The database's own view of one budget and of the holds on it (as the owner: no RLS filter). */
export interface LedgerState {
  limit: number;
  posted: number;
  held: number;
  /** Sum of the amounts of the OPEN holds on the budget. */
  openHolds: number;
  /** Sum posted by SETTLED holds on the budget since its period start. */
  settledInPeriod: number;
  /** Closed holds whose amount is not exactly posted + released (the CHECK makes this 0). */
  unbalancedHolds: number;
}

export async function ledgerState(db: SqlDatabase, budgetId: string): Promise<LedgerState> {
  const owner = db as SqlDatabase & { asOwner<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> };
  return owner.asOwner(async (tx) => {
    const { rows } = await tx.query<LedgerState>(
      `SELECT b.limit_micros::float8 AS limit, b.posted_micros::float8 AS posted, b.held_micros::float8 AS held,
              coalesce((SELECT sum(h.amount_micros) FROM billing.holds h
                         WHERE h.state = 'OPEN' AND b.id = ANY(h.budget_ids)), 0)::float8 AS "openHolds",
              coalesce((SELECT sum(h.posted_micros) FROM billing.holds h
                         WHERE h.state = 'SETTLED' AND b.id = ANY(h.budget_ids)
                           AND h.closed_at >= b.period_start), 0)::float8 AS "settledInPeriod",
              (SELECT count(*) FROM billing.holds h
                WHERE h.state <> 'OPEN' AND h.posted_micros + h.released_micros <> h.amount_micros)::int
                AS "unbalancedHolds"
         FROM billing.budgets b WHERE b.id = $1`,
      [budgetId],
    );
    if (!rows[0]) throw new Error(`no budget ${budgetId}`);
    return rows[0];
  });
}

export { prng } from '../../../tests/support/prng';
