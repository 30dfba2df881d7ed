import { InProcessEventBus, OutboxRelay } from '@somaagent/events';
import type { EventEnvelope, SqlDatabase, SqlExecutor } from '@somaagent/ports';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BudgetAdmin, BudgetLedger, USAGE_TOPIC } from '../src/index';
import { adapters, claimsFor, manualClock, newTenant, openMigrated } from './support';

type Owned = SqlDatabase & { asOwner<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> };

/** Every usage record and outbox row of the tenant, as the owner sees them. */
async function stored(db: SqlDatabase, tenantId: string) {
  return (db as Owned).asOwner(async (tx) => ({
    usage: (
      await tx.query<Record<string, unknown>>(
        `SELECT hold_id, purpose, model, tool, prompt_tokens, completion_tokens, latency_ms,
                cost_micros::float8 AS cost_micros, subjects
           FROM billing.usage_records WHERE tenant_id = $1 ORDER BY created_at`,
        [tenantId],
      )
    ).rows,
    outbox: (
      await tx.query<{ type: string; payload: Record<string, unknown> }>(
        'SELECT type, payload FROM billing.outbox WHERE tenant_id = $1 ORDER BY id',
        [tenantId],
      )
    ).rows,
  }));
}

for (const adapter of adapters) {
  describe(`billing usage records: ${adapter.name}`, () => {
    let db: SqlDatabase;
    beforeAll(async () => {
      db = await openMigrated(adapter);
    });
    afterAll(async () => {
      await db?.[Symbol.asyncDispose]();
    });

    it('a settlement writes one usage record and its billing.usage event, relayed to the bus once', async () => {
      const clock = manualClock();
      const ledger = new BudgetLedger(db, { clock: clock.now });
      const tenantId = newTenant();
      await new BudgetAdmin(db, clock.now).create(claimsFor(tenantId, 'admin'), {
        scope: 'TENANT',
        period: 'MONTH',
        limitMicros: 1_000_000,
      });
      const held = await ledger.hold({
        tenantId,
        subjects: { userId: 'ada', personaId: 'helper' },
        amountMicros: 5000,
        idempotencyKey: 'gen-1',
        purpose: 'session.generation',
      });
      if (!held.ok) throw new Error('refused');
      const ref = { tenantId, holdId: held.hold.holdId };
      const usage = { model: 'local-small', promptTokens: 120, completionTokens: 80, latencyMs: 950 };
      await ledger.settle(ref, 3100, usage);
      await ledger.settle(ref, 3100, usage); // a retry records nothing more

      // A released hold and an expired one record no usage.
      for (const key of ['gen-2', 'gen-3']) {
        const h = await ledger.hold({
          tenantId,
          subjects: {},
          amountMicros: 10,
          idempotencyKey: key,
          ttlSeconds: 5,
        });
        if (!h.ok) throw new Error('refused');
        if (key === 'gen-2') await ledger.release({ tenantId, holdId: h.hold.holdId });
        else {
          clock.advance(6000);
          await ledger.settle({ tenantId, holdId: h.hold.holdId }, 10, { tool: 'soma.echo' });
        }
      }

      const rows = await stored(db, tenantId);
      expect(rows.usage).toEqual([
        {
          hold_id: held.hold.holdId,
          purpose: 'session.generation',
          model: 'local-small',
          tool: null,
          prompt_tokens: 120,
          completion_tokens: 80,
          latency_ms: 950,
          cost_micros: 3100,
          subjects: { userId: 'ada', personaId: 'helper' },
        },
      ]);
      expect(rows.outbox).toEqual([
        {
          type: 'usage.recorded',
          payload: expect.objectContaining({
            holdId: held.hold.holdId,
            costMicros: 3100,
            model: 'local-small',
            promptTokens: 120,
            completionTokens: 80,
            purpose: 'session.generation',
            recordedAt: '2026-03-31T23:00:00.000Z',
          }),
        },
      ]);

      await using bus = new InProcessEventBus();
      const subscription = bus.subscribe(USAGE_TOPIC);
      await subscription.ready;
      await using relay = new OutboxRelay(db, bus, { schema: 'billing' });
      // Other tests' tenants share the database: drain them all, then find this tenant's event.
      expect(await relay.drain()).toBeGreaterThanOrEqual(1);
      expect(await relay.drain()).toBe(0);
      let event: EventEnvelope | undefined;
      for (;;) {
        const next = await subscription.next();
        if (next.done) break;
        if (next.value.tenantId === tenantId) {
          event = next.value;
          break;
        }
      }
      await subscription.return?.();
      expect(event).toMatchObject({
        topic: USAGE_TOPIC,
        tenantId,
        type: 'usage.recorded',
        payload: { holdId: held.hold.holdId, costMicros: 3100, outboxId: expect.anything() },
      });
    });

    it('bad usage is BAD_USER_INPUT and leaves the hold open', async () => {
      const ledger = new BudgetLedger(db);
      const tenantId = newTenant();
      const held = await ledger.hold({ tenantId, subjects: {}, amountMicros: 10, idempotencyKey: 'x' });
      if (!held.ok) throw new Error('refused');
      const ref = { tenantId, holdId: held.hold.holdId };
      for (const [usage, field] of [
        [{ promptTokens: -1 }, 'usage.promptTokens'],
        [{ latencyMs: 1.5 }, 'usage.latencyMs'],
        [{ model: '' }, 'usage.model'],
        [{ tool: 'x'.repeat(201) }, 'usage.tool'],
      ] as const) {
        await expect(ledger.settle(ref, 5, usage)).rejects.toMatchObject({
          code: 'BAD_USER_INPUT',
          extensions: { field },
        });
      }
      expect(await ledger.settle(ref, 5)).toMatchObject({ state: 'SETTLED', postedMicros: 5 });
      expect((await stored(db, tenantId)).usage).toHaveLength(1);
    });
  });
}
