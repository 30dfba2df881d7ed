import { InProcessEventBus, OutboxRelay } from '@somaagent/events';
import type { EventEnvelope, SqlDatabase } from '@somaagent/ports';
import { PgliteSqlDatabase } from '@somaagent/postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../tests/support/postgres';
import { sessionsMigrations } from '../src/index';

// The transactional outbox on both database adapters. "Crash between the database write and
// the publish" is the state where rows are committed and no relay has run: a relay started
// afterwards must publish every row exactly once, and two relays racing must not duplicate.
const adapters: [string, () => Promise<SqlDatabase>][] = [
  ['pglite', () => PgliteSqlDatabase.open()],
  ['postgres', () => createTestDatabase()],
];

const TENANT_A = '00000000-0000-4000-8000-00000000000a';
const TENANT_B = '00000000-0000-4000-8000-00000000000b';

describe.each(adapters)('outbox on %s', (_name, open) => {
  let db: SqlDatabase;
  afterEach(async () => {
    await db?.[Symbol.asyncDispose]();
  });

  async function enqueueCommitted(count: number) {
    db = await open();
    await db.migrate(sessionsMigrations);
    const writer = new OutboxRelay(db, new InProcessEventBus(), { schema: 'sessions' }); // never started: the "crashed" process
    for (let i = 0; i < count; i++) {
      const tenant = i % 2 ? TENANT_B : TENANT_A;
      await db.withScope({ tenantId: tenant }, (tx) =>
        writer.enqueue(tx, tenant, 'conversation.events', 'test', { i }),
      );
    }
  }

  const collect = (bus: InProcessEventBus) => {
    const got: EventEnvelope[] = [];
    const it = bus.subscribe('conversation.events');
    void (async () => {
      for await (const e of it) got.push(e);
    })();
    return { got, stop: () => it.return?.() };
  };

  it('publishes rows committed before a crash, once each, with tenant and outboxId', async () => {
    await enqueueCommitted(7);
    const bus = new InProcessEventBus();
    const seen = collect(bus);
    const relay = new OutboxRelay(db, bus, { schema: 'sessions' });
    expect(await relay.drain()).toBe(7);
    expect(await relay.drain()).toBe(0);
    await new Promise((r) => setTimeout(r, 10));
    expect(seen.got.map((e) => (e.payload as { i: number }).i)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(seen.got.map((e) => e.tenantId)).toEqual([
      TENANT_A,
      TENANT_B,
      TENANT_A,
      TENANT_B,
      TENANT_A,
      TENANT_B,
      TENANT_A,
    ]);
    expect(new Set(seen.got.map((e) => (e.payload as { outboxId: string }).outboxId)).size).toBe(7);
    seen.stop();
  });

  it('the application role cannot read the outbox across tenants except through the relay functions', async () => {
    await enqueueCommitted(4);
    const visible = await db.withScope({ tenantId: TENANT_A }, (tx) =>
      tx.query('SELECT tenant_id FROM sessions.outbox'),
    );
    expect(visible.rows.every((r) => r.tenant_id === TENANT_A)).toBe(true);
    expect(visible.rowCount).toBe(2);
  });

  it('two relays draining at once publish every row exactly once', async () => {
    await enqueueCommitted(40);
    const bus = new InProcessEventBus();
    const seen = collect(bus);
    const [a, b] = await Promise.all([
      new OutboxRelay(db, bus, { schema: 'sessions' }).drain(),
      new OutboxRelay(db, bus, { schema: 'sessions' }).drain(),
    ]);
    expect(a + b).toBe(40);
    await new Promise((r) => setTimeout(r, 10));
    const ids = seen.got.map((e) => (e.payload as { outboxId: string }).outboxId);
    expect(ids.length).toBe(40);
    expect(new Set(ids).size).toBe(40);
    seen.stop();
  });
});
