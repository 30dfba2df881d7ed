import { randomUUID } from 'node:crypto';
import {
  BudgetHoldConflict,
  BudgetHoldNotFound,
  type BudgetHoldResult,
  type SqlDatabase,
} from '@somaagent/ports';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BudgetAdmin, BudgetLedger } from '../src/index';
import { adapters, claimsFor, ledgerState, manualClock, newTenant, openMigrated } from './support';

for (const adapter of adapters) {
  describe(`BudgetLedger contract: ${adapter.name}`, () => {
    let db: SqlDatabase;
    beforeAll(async () => {
      db = await openMigrated(adapter);
    });
    afterAll(async () => {
      await db?.[Symbol.asyncDispose]();
    });

    const setup = (clock = manualClock()) => ({
      clock,
      ledger: new BudgetLedger(db, { clock: clock.now }),
      admin: new BudgetAdmin(db, clock.now),
    });

    it('1,000 concurrent holds against a budget that fits 100: no overspend, every refusal typed', async () => {
      const { ledger, admin } = setup();
      const tenantId = newTenant();
      const claims = claimsFor(tenantId, 'admin');
      const budget = await admin.create(claims, { scope: 'TENANT', period: 'MONTH', limitMicros: 100_000 });
      const started = Date.now();
      const outcomes = await Promise.all(
        Array.from({ length: 1000 }, async (_, i) => {
          const held = await ledger.hold({
            tenantId,
            subjects: { userId: `u${i % 7}` },
            amountMicros: 1000,
            idempotencyKey: `call-${i}`,
          });
          if (!held.ok) return { held, actual: 0 };
          // Actual cost below the worst case: the rest is released and later holds may fit.
          const actual = 400 + (i % 601);
          const settled = await ledger.settle({ tenantId, holdId: held.hold.holdId }, actual);
          expect(settled).toMatchObject({
            state: 'SETTLED',
            postedMicros: actual,
            releasedMicros: 1000 - actual,
          });
          return { held, actual };
        }),
      );
      const ms = Date.now() - started;
      const accepted = outcomes.filter((o) => o.held.ok);
      const refused = outcomes.filter((o) => !o.held.ok);
      const postedByCallers = accepted.reduce((sum, o) => sum + o.actual, 0);
      for (const { held } of refused) {
        const refusal = (held as Extract<BudgetHoldResult, { ok: false }>).refusal;
        expect(refusal).toMatchObject({
          budgetId: budget.id,
          scope: 'TENANT',
          scopeId: '',
          limitMicros: 100_000,
          requestedMicros: 1000,
          resetsAt: '2026-04-01T00:00:00.000Z',
        });
        expect(refusal.remainingMicros).toBeGreaterThanOrEqual(0);
        expect(refusal.remainingMicros).toBeLessThan(1000);
      }
      const state = await ledgerState(db, budget.id);
      console.log(
        `${adapter.name}: 1000 concurrent hold+settle on one budget (fits 100 worst cases): ${accepted.length} accepted, ` +
          `${refused.length} refused, posted ${state.posted}/${state.limit} µ$, ${ms} ms`,
      );
      expect(accepted.length).toBeGreaterThanOrEqual(100);
      expect(accepted.length + refused.length).toBe(1000);
      expect(state).toEqual({
        limit: 100_000,
        posted: postedByCallers,
        held: 0,
        openHolds: 0,
        settledInPeriod: postedByCallers,
        unbalancedHolds: 0,
      });
      expect(state.posted).toBeLessThanOrEqual(state.limit);
    });

    it('1,000 concurrent holds never settled: exactly the 100 that fit are held, the rest refused', async () => {
      const { ledger, admin } = setup();
      const tenantId = newTenant();
      const budget = await admin.create(claimsFor(tenantId, 'admin'), {
        scope: 'TENANT',
        period: 'TOTAL',
        limitMicros: 100_000,
      });
      const results = await Promise.all(
        Array.from({ length: 1000 }, (_, i) =>
          ledger.hold({ tenantId, subjects: {}, amountMicros: 1000, idempotencyKey: `open-${i}` }),
        ),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(100);
      expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.refusal.remainingMicros === 0)).toBe(true);
      expect(results.find((r) => !r.ok)).toMatchObject({ ok: false, refusal: { resetsAt: null } });
      expect(await ledgerState(db, budget.id)).toMatchObject({
        posted: 0,
        held: 100_000,
        openHolds: 100_000,
      });
    });

    it('nested budgets (tenant and user) all apply; the refusal names the one that did not fit', async () => {
      const { ledger, admin } = setup();
      const tenantId = newTenant();
      const claims = claimsFor(tenantId, 'admin');
      const tenantBudget = await admin.create(claims, {
        scope: 'TENANT',
        period: 'DAY',
        limitMicros: 10_000,
      });
      const alice = await admin.create(claims, {
        scope: 'USER',
        scopeId: 'alice',
        period: 'DAY',
        limitMicros: 3000,
      });
      const hold = (user: string, key: string, amountMicros = 2000) =>
        ledger.hold({ tenantId, subjects: { userId: user }, amountMicros, idempotencyKey: key });

      const a1 = await hold('alice', 'a1');
      expect(a1).toMatchObject({ ok: true, hold: { state: 'OPEN', amountMicros: 2000 } });
      expect(a1.ok && [...a1.hold.budgetIds].sort()).toEqual([tenantBudget.id, alice.id].sort());
      expect(await hold('alice', 'a2')).toEqual({
        ok: false,
        refusal: {
          budgetId: alice.id,
          scope: 'USER',
          scopeId: 'alice',
          limitMicros: 3000,
          remainingMicros: 1000,
          requestedMicros: 2000,
          resetsAt: '2026-04-01T00:00:00.000Z',
        },
      });
      // Refused by the user budget: nothing was held against the tenant's either.
      expect(await ledgerState(db, tenantBudget.id)).toMatchObject({ held: 2000 });
      for (const key of ['b1', 'b2', 'b3', 'b4']) expect((await hold('bob', key)).ok).toBe(true);
      expect(await hold('bob', 'b5', 1)).toMatchObject({
        ok: false,
        refusal: { budgetId: tenantBudget.id, scope: 'TENANT', remainingMicros: 0 },
      });
      // A persona budget of another persona does not apply; one of this persona does.
      await admin.create(claims, { scope: 'PERSONA', scopeId: 'p1', period: 'TOTAL', limitMicros: 0 });
      await ledger.release({ tenantId, holdId: a1.ok ? a1.hold.holdId : '' });
      expect(
        (
          await ledger.hold({
            tenantId,
            subjects: { personaId: 'p2' },
            amountMicros: 1,
            idempotencyKey: 'p2',
          })
        ).ok,
      ).toBe(true);
      expect(
        await ledger.hold({ tenantId, subjects: { personaId: 'p1' }, amountMicros: 1, idempotencyKey: 'p1' }),
      ).toMatchObject({ ok: false, refusal: { scope: 'PERSONA', scopeId: 'p1', limitMicros: 0 } });
      // Deleted, it no longer applies; holds already open on it settle against the others.
      const p1 = (await admin.list(claims, { scope: 'PERSONA' })).rows[0]!;
      await admin.delete(claims, p1.id, null);
      expect(
        (
          await ledger.hold({
            tenantId,
            subjects: { personaId: 'p1' },
            amountMicros: 1,
            idempotencyKey: 'p1',
          })
        ).ok,
      ).toBe(true);
    });

    it('a retried hold with the same key returns the same hold, concurrently or after settlement', async () => {
      const { ledger, admin } = setup();
      const tenantId = newTenant();
      const budget = await admin.create(claimsFor(tenantId, 'admin'), {
        scope: 'TENANT',
        period: 'MONTH',
        limitMicros: 5000,
      });
      const request = {
        tenantId,
        subjects: { userId: 'alice' },
        amountMicros: 3000,
        idempotencyKey: 'gen-42',
      };
      const tries = await Promise.all(Array.from({ length: 10 }, () => ledger.hold(request)));
      const ids = new Set(tries.map((t) => (t.ok ? t.hold.holdId : 'refused')));
      expect(ids.size).toBe(1);
      expect(ids.has('refused')).toBe(false);
      expect(await ledgerState(db, budget.id)).toMatchObject({ held: 3000, openHolds: 3000 });

      const holdId = [...ids][0]!;
      const settled = await ledger.settle({ tenantId, holdId }, 1200);
      expect(await ledger.settle({ tenantId, holdId }, 1200)).toEqual(settled);
      expect(await ledger.settle({ tenantId, holdId }, 2500)).toEqual(settled);
      expect(await ledger.release({ tenantId, holdId })).toEqual(settled);
      expect(await ledger.hold(request)).toEqual({ ok: true, hold: settled });
      expect(await ledgerState(db, budget.id)).toMatchObject({ posted: 1200, held: 0 });

      await expect(ledger.hold({ ...request, amountMicros: 3001 })).rejects.toBeInstanceOf(
        BudgetHoldConflict,
      );
      await expect(ledger.settle({ tenantId: newTenant(), holdId }, 1)).rejects.toBeInstanceOf(
        BudgetHoldNotFound,
      );
      await expect(ledger.settle({ tenantId, holdId: randomUUID() }, 1)).rejects.toBeInstanceOf(
        BudgetHoldNotFound,
      );
      await expect(ledger.release({ tenantId, holdId: 'not-a-uuid' })).rejects.toBeInstanceOf(
        BudgetHoldNotFound,
      );
    });

    it('a settlement above the hold posts the hold (a hold is the most a call may cost)', async () => {
      const { ledger, admin } = setup();
      const tenantId = newTenant();
      const budget = await admin.create(claimsFor(tenantId, 'admin'), {
        scope: 'TENANT',
        period: 'TOTAL',
        limitMicros: 1000,
      });
      const held = await ledger.hold({ tenantId, subjects: {}, amountMicros: 1000, idempotencyKey: 'k' });
      if (!held.ok) throw new Error('refused');
      expect(await ledger.settle({ tenantId, holdId: held.hold.holdId }, 5000)).toMatchObject({
        postedMicros: 1000,
        releasedMicros: 0,
      });
      expect(await ledgerState(db, budget.id)).toMatchObject({ posted: 1000, held: 0 });
    });

    it('holds never settled expire: their amount returns, a late settle posts nothing', async () => {
      const { ledger, admin, clock } = setup();
      const tenantId = newTenant();
      const budget = await admin.create(claimsFor(tenantId, 'admin'), {
        scope: 'TENANT',
        period: 'TOTAL',
        limitMicros: 1000,
      });
      const crashed = await ledger.hold({
        tenantId,
        subjects: {},
        amountMicros: 1000,
        idempotencyKey: 'c',
        ttlSeconds: 60,
      });
      if (!crashed.ok) throw new Error('refused');
      expect((await ledger.hold({ tenantId, subjects: {}, amountMicros: 1, idempotencyKey: 'd' })).ok).toBe(
        false,
      );
      clock.advance(59_000);
      expect((await ledger.hold({ tenantId, subjects: {}, amountMicros: 1, idempotencyKey: 'd' })).ok).toBe(
        false,
      );
      clock.advance(1_000);
      // The next hold on the budget expires the stale one first.
      const next = await ledger.hold({ tenantId, subjects: {}, amountMicros: 600, idempotencyKey: 'd' });
      expect(next.ok).toBe(true);
      expect(await ledger.settle({ tenantId, holdId: crashed.hold.holdId }, 700)).toMatchObject({
        state: 'EXPIRED',
        postedMicros: 0,
        releasedMicros: 1000,
      });
      expect(await ledgerState(db, budget.id)).toMatchObject({ posted: 0, held: 600, openHolds: 600 });

      // The sweep expires what no later hold met; a settle after expiry posts nothing.
      clock.advance(600_000);
      expect(await ledger.expireDue(tenantId)).toBe(1);
      expect(await ledger.expireDue(tenantId)).toBe(0);
      expect(await ledgerState(db, budget.id)).toMatchObject({ held: 0, openHolds: 0, unbalancedHolds: 0 });
      if (!next.ok) throw new Error('refused');
      expect(await ledger.settle({ tenantId, holdId: next.hold.holdId }, 10)).toMatchObject({
        state: 'EXPIRED',
      });
    });

    it('a DAY budget starts from zero at midnight UTC; holds carried over still count', async () => {
      const { ledger, admin, clock } = setup(manualClock(new Date('2026-03-31T23:00:00.000Z')));
      const tenantId = newTenant();
      const claims = claimsFor(tenantId, 'admin');
      const budget = await admin.create(claims, { scope: 'TENANT', period: 'DAY', limitMicros: 1000 });
      const a = await ledger.hold({ tenantId, subjects: {}, amountMicros: 700, idempotencyKey: 'a' });
      const b = await ledger.hold({
        tenantId,
        subjects: {},
        amountMicros: 300,
        idempotencyKey: 'b',
        ttlSeconds: 7200,
      });
      if (!a.ok || !b.ok) throw new Error('refused');
      await ledger.settle({ tenantId, holdId: a.hold.holdId }, 700);
      expect(
        await ledger.hold({ tenantId, subjects: {}, amountMicros: 1, idempotencyKey: 'c' }),
      ).toMatchObject({
        ok: false,
        refusal: { remainingMicros: 0, resetsAt: '2026-04-01T00:00:00.000Z' },
      });
      clock.advance(3_600_000);
      // New day: posted starts from 0; hold b (300) is still in flight.
      expect((await admin.get(claims, budget.id)).posted_micros).toBe(700);
      const c = await ledger.hold({ tenantId, subjects: {}, amountMicros: 700, idempotencyKey: 'c' });
      expect(c.ok).toBe(true);
      expect(await ledgerState(db, budget.id)).toMatchObject({ posted: 0, held: 1000 });
      expect((await ledger.hold({ tenantId, subjects: {}, amountMicros: 1, idempotencyKey: 'e' })).ok).toBe(
        false,
      );
      // b settles in the new day: its spend lands in the new day.
      await ledger.settle({ tenantId, holdId: b.hold.holdId }, 300);
      expect(await ledgerState(db, budget.id)).toMatchObject({
        posted: 300,
        held: 700,
        settledInPeriod: 300,
      });
    });

    it('bad requests get BAD_USER_INPUT, naming the field', async () => {
      const { ledger } = setup();
      const tenantId = newTenant();
      const base = { tenantId, subjects: {}, amountMicros: 1, idempotencyKey: 'x' };
      for (const [request, field] of [
        [{ ...base, amountMicros: -5 }, 'amountMicros'],
        [{ ...base, amountMicros: 0 }, 'amountMicros'],
        [{ ...base, amountMicros: 1.5 }, 'amountMicros'],
        [{ ...base, amountMicros: 1e13 }, 'amountMicros'],
        [{ ...base, idempotencyKey: '' }, 'idempotencyKey'],
        [{ ...base, ttlSeconds: 0 }, 'ttlSeconds'],
        [{ ...base, tenantId: 'acme' }, 'tenantId'],
        [{ ...base, subjects: { userId: '' } }, 'subjects.userId'],
      ] as const) {
        await expect(ledger.hold(request)).rejects.toMatchObject({
          code: 'BAD_USER_INPUT',
          extensions: { field },
        });
      }
      await expect(ledger.settle({ tenantId, holdId: randomUUID() }, -1)).rejects.toMatchObject({
        code: 'BAD_USER_INPUT',
        extensions: { field: 'actualMicros' },
      });
    });
  });
}
