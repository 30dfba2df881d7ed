import type { BudgetHold, SqlDatabase } from '@somaagent/ports';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BudgetAdmin, BudgetLedger } from '../src/index';
import { adapters, claimsFor, ledgerState, manualClock, newTenant, openMigrated, prng } from './support';

/**
 * Property test: seeded random interleavings of hold / settle / release / abandon (a caller that
 * crashed) / clock moves (expiry, period resets) / sweeps, several operations at once per round,
 * over nested budgets of three periods. After every round, for every budget: posted + held ≤
 * limit, held = the open holds on it, posted = what settled holds posted in its period, and every
 * closed hold split its amount exactly into posted + released.
 */
const ROUNDS = 150;

interface Tracked {
  hold: BudgetHold;
  expiresAt: number;
}

for (const adapter of adapters) {
  describe(`BudgetLedger interleavings: ${adapter.name}`, () => {
    let db: SqlDatabase;
    beforeAll(async () => {
      db = await openMigrated(adapter);
    });
    afterAll(async () => {
      await db?.[Symbol.asyncDispose]();
    });

    for (const seed of [1, 7, 2026]) {
      it(`seed ${seed}: the ledger's invariants hold after every round`, async () => {
        const random = prng(seed);
        const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
        const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
        // 22:00 UTC on the last day of a month: the run crosses a day and a month boundary.
        const clock = manualClock(new Date('2026-03-31T22:00:00.000Z'));
        const ledger = new BudgetLedger(db, { clock: clock.now });
        const admin = new BudgetAdmin(db, clock.now);
        const tenantId = newTenant();
        const claims = claimsFor(tenantId, 'admin');
        const budgets = [
          await admin.create(claims, { scope: 'TENANT', period: 'MONTH', limitMicros: 20_000 }),
          await admin.create(claims, { scope: 'USER', scopeId: 'u0', period: 'DAY', limitMicros: 6000 }),
          await admin.create(claims, { scope: 'USER', scopeId: 'u1', period: 'TOTAL', limitMicros: 5000 }),
          await admin.create(claims, { scope: 'PERSONA', scopeId: 'p0', period: 'DAY', limitMicros: 8000 }),
        ];
        const open = new Map<string, Tracked>();
        const keys: { key: string; amount: number; holdId: string }[] = [];
        const counts = { held: 0, refused: 0, retried: 0, settled: 0, released: 0, expired: 0, abandoned: 0 };
        let next = 0;

        const holdOp = async () => {
          const retry = keys.length > 0 && random() < 0.1 ? pick(keys) : null;
          const amount = retry?.amount ?? int(1, 3000);
          const key = retry?.key ?? `k${seed}-${next++}`;
          const result = await ledger.hold({
            tenantId,
            subjects: { userId: pick(['u0', 'u1', 'u2']), ...(random() < 0.5 ? { personaId: 'p0' } : {}) },
            amountMicros: amount,
            idempotencyKey: key,
            ttlSeconds: int(30, 900),
          });
          if (retry) {
            counts.retried++;
            expect(result).toMatchObject({ ok: true, hold: { holdId: retry.holdId, amountMicros: amount } });
            return;
          }
          if (!result.ok) {
            counts.refused++;
            expect(result.refusal.remainingMicros).toBeLessThan(amount);
            expect(budgets.map((b) => b.id)).toContain(result.refusal.budgetId);
            return;
          }
          counts.held++;
          keys.push({ key, amount, holdId: result.hold.holdId });
          open.set(result.hold.holdId, { hold: result.hold, expiresAt: Date.parse(result.hold.expiresAt) });
        };

        const closeOp = async (t: Tracked, how: 'settle' | 'release') => {
          const ref = { tenantId, holdId: t.hold.holdId };
          const actual = int(0, Math.ceil(t.hold.amountMicros * 1.2));
          const closed = how === 'settle' ? await ledger.settle(ref, actual) : await ledger.release(ref);
          open.delete(t.hold.holdId);
          if (clock.now().getTime() >= t.expiresAt) {
            counts.expired++;
            expect(closed).toMatchObject({ state: 'EXPIRED', postedMicros: 0 });
          } else if (how === 'settle') {
            counts.settled++;
            const posted = Math.min(actual, t.hold.amountMicros);
            expect(closed).toMatchObject({ state: 'SETTLED', postedMicros: posted });
          } else {
            counts.released++;
            expect(closed).toMatchObject({ state: 'RELEASED', postedMicros: 0 });
          }
          expect(closed.postedMicros + closed.releasedMicros).toBe(t.hold.amountMicros);
        };

        for (let round = 0; round < ROUNDS; round++) {
          const r = random();
          if (r < 0.08) {
            // Time moves (alone in its round, so every other round sees one fixed clock).
            clock.advance(random() < 0.2 ? int(1, 8) * 3_600_000 : int(1, 300) * 1000);
          } else if (r < 0.12) {
            await ledger.expireDue(tenantId);
          } else {
            const ops: Promise<void>[] = [];
            const taken = new Set<string>();
            for (let i = int(1, 6); i > 0; i--) {
              const candidates = [...open.values()].filter((t) => !taken.has(t.hold.holdId));
              const kind = random();
              if (kind < 0.5 || candidates.length === 0) ops.push(holdOp());
              else {
                const t = pick(candidates);
                taken.add(t.hold.holdId);
                if (kind < 0.8) ops.push(closeOp(t, 'settle'));
                else if (kind < 0.92) ops.push(closeOp(t, 'release'));
                else {
                  // The caller crashed: nobody will settle it; it must expire.
                  counts.abandoned++;
                  open.delete(t.hold.holdId);
                }
              }
            }
            await Promise.all(ops);
          }
          for (const b of budgets) {
            const s = await ledgerState(db, b.id);
            const where = `seed ${seed}, round ${round}, budget ${b.scope}/${b.scope_id}/${b.period}`;
            expect(s.posted + s.held, where).toBeLessThanOrEqual(s.limit);
            expect(s.held, where).toBe(s.openHolds);
            expect(s.posted, where).toBe(s.settledInPeriod);
            expect(s.unbalancedHolds, where).toBe(0);
          }
        }
        // Everything abandoned or still open expires once its time is up.
        clock.advance(901_000);
        while ((await ledger.expireDue(tenantId)) > 0);
        for (const b of budgets) expect(await ledgerState(db, b.id)).toMatchObject({ held: 0, openHolds: 0 });
        console.log(`${adapter.name} seed ${seed}: ${JSON.stringify(counts)}`);
        expect(counts.held).toBeGreaterThan(20);
        expect(counts.refused).toBeGreaterThan(0);
      });
    }
  });
}
