import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestPostgresSqlDatabase } from '../../../tests/support/postgres';
import { startProcess } from '../../../tests/support/startProcess';
import { BudgetAdmin, BudgetLedger, billingMigrations } from '../src/index';
import { claimsFor, ledgerState, manualClock, newTenant } from './support';

const HOLD_LOOP = fileURLToPath(new URL('./processes/holdLoop.ts', import.meta.url));

/**
 * A caller SIGKILLed in the middle of holds and settlements (transactions in flight on the
 * PostgreSQL server): after a restart, retries with the same keys find the holds that committed,
 * nothing is charged twice, and the holds it never settled expire.
 */
describe('billing: a caller killed mid-hold', () => {
  let db: TestPostgresSqlDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await db.migrate(billingMigrations);
  });
  afterAll(async () => {
    await db?.[Symbol.asyncDispose]();
  });

  it('after SIGKILL and restart no hold is charged twice and stale holds expire', async () => {
    const tenantId = newTenant();
    const admin = new BudgetAdmin(db, () => new Date());
    const budget = await admin.create(claimsFor(tenantId, 'admin'), {
      scope: 'TENANT',
      period: 'TOTAL',
      limitMicros: 1_000_000_000,
    });
    const url = new URL(inject('postgres').appUrl);
    url.pathname = `/${db.databaseName}`;
    const caller = await startProcess(
      process.execPath,
      ['--import', 'tsx', HOLD_LOOP, url.toString(), tenantId],
      {
        env: process.env,
        readyLine: /^ready$/m,
      },
    );
    try {
      for (let i = 0; i < 200 && (caller.output().match(/^held /gm)?.length ?? 0) < 40; i++)
        await new Promise((r) => setTimeout(r, 50));
      const exited = new Promise((r) => caller.child.once('exit', r));
      process.kill(-caller.child.pid!, 'SIGKILL');
      await exited;
    } finally {
      await caller[Symbol.asyncDispose]();
    }
    const out = caller.output();
    const printedHolds = new Map([...out.matchAll(/^held (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    const printedSettled = new Set([...out.matchAll(/^settled (\S+)$/gm)].map((m) => m[1]!));
    expect(printedHolds.size).toBeGreaterThanOrEqual(40);

    // The restarted caller retries every call it may have started (a few beyond what it printed).
    const ledger = new BudgetLedger(db);
    const maxN = Math.max(...[...printedHolds.keys()].map((k) => Number(k.split('-')[1])));
    let sameHold = 0;
    for (let w = 0; w < 4; w++) {
      for (let n = 0; n <= maxN + 2; n++) {
        const key = `w${w}-${n}`;
        const retried = await ledger.hold({
          tenantId,
          subjects: { userId: 'ada' },
          amountMicros: 1000,
          idempotencyKey: key,
          ttlSeconds: 5,
        });
        if (!retried.ok) throw new Error(`refused ${key}`);
        if (printedHolds.has(key)) {
          expect(retried.hold.holdId, key).toBe(printedHolds.get(key));
          sameHold++;
        }
        if (printedSettled.has(key)) {
          expect(retried.hold).toMatchObject({ state: 'SETTLED', postedMicros: 700 });
          // A retried settle posts nothing more.
          expect(await ledger.settle({ tenantId, holdId: retried.hold.holdId }, 700)).toEqual(retried.hold);
        }
      }
    }
    expect(sameHold).toBe(printedHolds.size);
    const afterRestart = await ledgerState(db, budget.id);
    expect(afterRestart.held).toBe(afterRestart.openHolds);
    expect(afterRestart.posted).toBe(afterRestart.settledInPeriod);
    expect(afterRestart.posted).toBeGreaterThanOrEqual(printedSettled.size * 700);
    expect(afterRestart.unbalancedHolds).toBe(0);

    // Nobody settles the rest: past their TTL they expire and nothing stays held.
    const later = manualClock(new Date(Date.now() + 60_000));
    const sweeper = new BudgetLedger(db, { clock: later.now });
    while ((await sweeper.expireDue(tenantId)) > 0);
    expect(await ledgerState(db, budget.id)).toEqual({ ...afterRestart, held: 0, openHolds: 0 });
    console.log(
      `killed after ${printedHolds.size} printed holds (${printedSettled.size} settled); ` +
        `after restart: posted ${afterRestart.posted} µ$, ${afterRestart.openHolds} µ$ held then expired`,
    );
  });
});
