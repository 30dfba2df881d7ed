import { KafkaEventBus } from '@somaagent/kafka';
import type { EventBus, EventEnvelope } from '@somaagent/ports';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { InProcessEventBus } from '../src/InProcessEventBus';

// One table of assertions for every EventBus adapter: in-process (embedded) and Kafka (the
// harness's real single-node KRaft broker, engine `kafka`).
const brokers = process.env.SOMA_KAFKA_BROKERS;
if (!brokers) throw new Error('the test harness did not provide the kafka engine (SOMA_KAFKA_BROKERS)');

const adapters: [string, () => EventBus][] = [
  ['in-process', () => new InProcessEventBus()],
  [
    'kafka',
    () =>
      new KafkaEventBus(
        new Kafka({ clientId: 'soma-contract', brokers: brokers.split(','), logLevel: logLevel.NOTHING }),
      ),
  ],
];

const topic = () => `contract.${Date.now()}.${Math.random().toString(36).slice(2, 8)}`;
const envelope = (t: string, tenantId: string, n: number): EventEnvelope => ({
  topic: t,
  tenantId,
  type: 'test.event',
  payload: { n },
  occurredAt: new Date().toISOString(),
});

async function take(
  it: AsyncIterator<EventEnvelope>,
  n: number,
  timeoutMs = 20_000,
): Promise<EventEnvelope[]> {
  const got: EventEnvelope[] = [];
  const deadline = Date.now() + timeoutMs;
  while (got.length < n && Date.now() < deadline) {
    const r = await it.next();
    if (r.done) break;
    got.push(r.value);
  }
  return got;
}

describe.each(adapters)('EventBus contract: %s', (_name, create) => {
  it('a subscriber receives what is published after ready, in order per tenant, whole', async () => {
    await using bus = create();
    const t = topic();
    const sub = bus.subscribe(t);
    await sub.ready;
    for (let n = 0; n < 10; n++) await bus.publish(envelope(t, n % 2 ? 'tenant-b' : 'tenant-a', n));
    const got = await take(sub, 10);
    expect(got).toHaveLength(10);
    for (const tenant of ['tenant-a', 'tenant-b']) {
      const ns = got.filter((e) => e.tenantId === tenant).map((e) => (e.payload as { n: number }).n);
      expect(ns).toEqual([...ns].sort((a, b) => a - b));
      expect(ns).toHaveLength(5);
    }
    expect(got[0]).toMatchObject({ topic: t, type: 'test.event' });
    await sub.return?.();
  });

  it('every subscriber gets every event (fan-out), and topics are separate', async () => {
    await using bus = create();
    const t = topic();
    const other = topic();
    const a = bus.subscribe(t);
    const b = bus.subscribe(t);
    const c = bus.subscribe(other);
    await Promise.all([a.ready, b.ready, c.ready]);
    for (let n = 0; n < 5; n++) await bus.publish(envelope(t, 'tenant-a', n));
    await bus.publish(envelope(other, 'tenant-a', 99));
    expect((await take(a, 5)).map((e) => (e.payload as { n: number }).n)).toEqual([0, 1, 2, 3, 4]);
    expect((await take(b, 5)).map((e) => (e.payload as { n: number }).n)).toEqual([0, 1, 2, 3, 4]);
    expect((await take(c, 1)).map((e) => (e.payload as { n: number }).n)).toEqual([99]);
    for (const s of [a, b, c]) await s.return?.();
  });

  it('a returned subscription ends', async () => {
    await using bus = create();
    const sub = bus.subscribe(topic());
    await sub.ready;
    const pending = sub.next();
    await sub.return?.();
    expect((await pending).done).toBe(true);
  });
});
