import { randomUUID } from 'node:crypto';
import kafkajs, { type Consumer, type EachMessagePayload, type Producer } from 'kafkajs';
import { afterAll, describe, expect, inject, it } from 'vitest';

/**
 * The harness Kafka (engine `kafka`) behaves like the production one as far as SomaAgent relies
 * on it, through the client the product uses (kafkajs): topics, an idempotent producer, consumer
 * groups, and committed offsets that outlive a consumer.
 */
const { Kafka, logLevel, Partitioners } = kafkajs;
const { brokers } = inject('kafka');
// kafkajs logs retriable protocol errors (coordinator loading, rebalancing) it then recovers
// from; real failures surface as rejected promises.
const kafka = new Kafka({ clientId: 'soma-contract', brokers, logLevel: logLevel.NOTHING });
const admin = kafka.admin();
const open: { disconnect(): Promise<void> }[] = [admin];

afterAll(async () => {
  await Promise.all(open.map((client) => client.disconnect().catch(() => undefined)));
});

async function idempotentProducer(): Promise<Producer> {
  // What SomaAgent's event bus uses: no duplicates or reordering when the client retries.
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  open.push(producer);
  await producer.connect();
  return producer;
}

async function createTopic(partitions: number): Promise<string> {
  const topic = `contract.${randomUUID()}`;
  await admin.connect();
  expect(
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true }),
  ).toBe(true);
  // waitForLeaders reads the controller's metadata; on a loaded machine the broker can still answer
  // "does not host this topic-partition" for a moment after it. ListOffsets goes to each
  // partition's leader, so once it answers, produce and fetch will too.
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await admin.fetchTopicOffsets(topic);
      return topic;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

interface Received {
  partition: number;
  offset: string;
  key: string;
  value: string;
}

/**
 * Runs `consumer` on `topic`, committing each message's offset after handling it (at-least-once,
 * as the product does), and resolves once `count` messages arrived.
 */
async function consume(consumer: Consumer, topic: string, count: number, into: Received[] = []) {
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let reached!: () => void;
  const done = new Promise<void>((resolve) => {
    reached = resolve;
  });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ topic: from, partition, message }: EachMessagePayload) => {
      into.push({
        partition,
        offset: message.offset,
        key: message.key?.toString() ?? '',
        value: message.value?.toString() ?? '',
      });
      await consumer.commitOffsets([{ topic: from, partition, offset: String(Number(message.offset) + 1) }]);
      if (into.length >= count) reached();
    },
  });
  await withTimeout(done, 45_000, `waiting for ${count} messages on ${topic} (got ${into.length})`);
  return into;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function newConsumer(groupId: string): Consumer {
  // Short fetch long-polls: `disconnect()` waits for the one in flight (kafkajs default: 5 s).
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 250 });
  open.push(consumer);
  return consumer;
}

describe('harness Kafka (Apache Kafka, KRaft) through kafkajs', () => {
  it('is one broker on 127.0.0.1 that is also the controller', async () => {
    expect(brokers).toHaveLength(1);
    expect(brokers[0]).toMatch(/^127\.0\.0\.1:\d+$/);
    await admin.connect();
    const cluster = await admin.describeCluster();
    expect(cluster.brokers).toEqual([
      { nodeId: 1, host: '127.0.0.1', port: Number(brokers[0]!.split(':')[1]) },
    ]);
    expect(cluster.controller).toBe(1);
    expect(cluster.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('creates a topic with the requested partitions; creating it again changes nothing', async () => {
    const topic = await createTopic(3);
    expect(await admin.listTopics()).toContain(topic);
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0]!.partitions.map((p) => p.partitionId).sort()).toEqual([0, 1, 2]);
    for (const partition of metadata.topics[0]!.partitions) {
      expect(partition.leader).toBe(1);
      expect(partition.replicas).toEqual([1]);
    }
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 5 }], waitForLeaders: true })).toBe(
      false,
    );
    expect((await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions).toHaveLength(3);
  });

  it('an idempotent producer appends each message once, in order per key', async () => {
    const topic = await createTopic(3);
    const producer = await idempotentProducer();
    const keys = ['tenant-a', 'tenant-b', 'tenant-c', 'tenant-d'];
    const sent: { key: string; value: string }[] = [];
    for (let i = 0; i < 40; i++) {
      const key = keys[i % keys.length]!;
      sent.push({ key, value: `${key}#${i}` });
    }
    // One batch per send, sequential: the producer's sequence numbers grow across them.
    for (let i = 0; i < sent.length; i += 10) {
      const results = await producer.send({ topic, acks: -1, messages: sent.slice(i, i + 10) });
      for (const result of results) expect(result.errorCode).toBe(0);
    }
    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets.reduce((n, p) => n + Number(p.high), 0)).toBe(sent.length);

    const received = await consume(newConsumer(`contract-${randomUUID()}`), topic, sent.length);
    expect(received).toHaveLength(sent.length);
    expect(new Set(received.map((r) => r.value)).size).toBe(sent.length);
    for (const key of keys) {
      const ofKey = received.filter((r) => r.key === key);
      // One key, one partition, the order it was sent in.
      expect(new Set(ofKey.map((r) => r.partition)).size).toBe(1);
      expect(ofKey.map((r) => r.value)).toEqual(sent.filter((s) => s.key === key).map((s) => s.value));
    }
  });

  it('a consumer group resumes at its committed offsets after the consumer restarts', async () => {
    const topic = await createTopic(2);
    const groupId = `contract-${randomUUID()}`;
    const producer = await idempotentProducer();
    const batch = (from: number) =>
      Array.from({ length: 6 }, (_, i) => ({ key: `k${(from + i) % 2}`, value: `m${from + i}` }));

    await producer.send({ topic, messages: batch(0) });
    const first = newConsumer(groupId);
    const before = await consume(first, topic, 6);
    expect(before.map((r) => r.value).sort()).toEqual(
      batch(0)
        .map((m) => m.value)
        .sort(),
    );
    await first.disconnect();

    // Committed while no consumer runs: the group's offsets are on the broker, not in the client.
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const high = await admin.fetchTopicOffsets(topic);
    for (const partition of committed[0]!.partitions) {
      const end = high.find((h) => h.partition === partition.partition)!.high;
      // A partition no key hashed to has nothing committed (-1).
      expect(partition.offset).toBe(end === '0' ? '-1' : end);
    }

    await producer.send({ topic, messages: batch(6) });
    // A new consumer in the same group (with fromBeginning: true, which only applies when nothing
    // is committed) gets the new messages only, none of the ones handled before the restart.
    const second = newConsumer(groupId);
    const after = await consume(second, topic, 6);
    await new Promise((r) => setTimeout(r, 500)); // anything replayed would arrive now
    expect(after.map((r) => r.value).sort()).toEqual(
      batch(6)
        .map((m) => m.value)
        .sort(),
    );
    await second.disconnect();

    // Another group has its own offsets: it reads everything.
    const other = await consume(newConsumer(`contract-${randomUUID()}`), topic, 12);
    expect(other).toHaveLength(12);
  });

  it('splits partitions between the members of one group; each message goes to one member', async () => {
    const topic = await createTopic(4);
    const groupId = `contract-${randomUUID()}`;
    const members = [newConsumer(groupId), newConsumer(groupId)];
    const assignments = new Map<Consumer, number[]>();
    const received = new Map<Consumer, Received[]>(members.map((m) => [m, []]));
    for (const member of members) {
      member.on(member.events.GROUP_JOIN, (event) => {
        assignments.set(member, event.payload.memberAssignment[topic] ?? []);
      });
      await member.connect();
      await member.subscribe({ topic, fromBeginning: true });
      await member.run({
        eachMessage: async ({ partition, message }) => {
          received.get(member)!.push({
            partition,
            offset: message.offset,
            key: message.key?.toString() ?? '',
            value: message.value?.toString() ?? '',
          });
        },
      });
    }
    // Stable: both members joined the same generation and hold all four partitions between them.
    const stable = () => {
      const all = members.flatMap((m) => assignments.get(m) ?? []);
      return (
        members.every((m) => (assignments.get(m) ?? []).length > 0) &&
        new Set(all).size === 4 &&
        all.length === 4
      );
    };
    const deadline = Date.now() + 45_000;
    while (!stable() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(stable()).toBe(true);

    const producer = await idempotentProducer();
    const messages = Array.from({ length: 40 }, (_, i) => ({ key: `key-${i}`, value: `v${i}` }));
    await producer.send({ topic, messages });
    const total = () => members.reduce((n, m) => n + received.get(m)!.length, 0);
    const until = Date.now() + 45_000;
    while (total() < messages.length && Date.now() < until) await new Promise((r) => setTimeout(r, 100));

    const values = members.flatMap((m) => received.get(m)!.map((r) => r.value));
    expect(values.sort()).toEqual(messages.map((m) => m.value).sort());
    for (const member of members) {
      const mine = new Set(assignments.get(member));
      for (const r of received.get(member)!) expect(mine.has(r.partition)).toBe(true);
    }
  });
});
