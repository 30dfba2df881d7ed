import { randomUUID } from 'node:crypto';
import type { EventBus, EventEnvelope, Subscription } from '@somaagent/ports';
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';

export interface KafkaEventBusOptions {
  /** Prefix of the throw-away consumer groups of live subscribers. @default 'soma-live' */
  groupPrefix?: string;
  /** Partitions of topics this bus creates. @default 3 */
  partitions?: number;
}

/**
 * Runs `work` again while the broker answers that partition leadership is still settling (a topic
 * just created, or a broker just started): kafkajs marks those errors retriable but its admin
 * surfaces them. Other errors, and the last attempt's, are thrown.
 */
async function whileLeadersMove<T>(work: () => Promise<T>, attempts = 20): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const { retriable, type } = error as { retriable?: boolean; type?: string };
      const settling =
        retriable === true &&
        (type === 'NOT_LEADER_FOR_PARTITION' ||
          type === 'LEADER_NOT_AVAILABLE' ||
          type === 'UNKNOWN_TOPIC_OR_PARTITION');
      if (!settling || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.min(100 * attempt, 1_000)));
    }
  }
}

/**
 * Distributed EventBus on Kafka. Publishing uses one idempotent producer (exactly-once per
 * partition across retries), keyed by tenant so each tenant's events stay in order. Each live
 * subscriber (a GraphQL subscription) gets its own consumer group positioned at the end of
 * every partition when it subscribed, so it sees everything published from then on.
 */
export class KafkaEventBus implements EventBus {
  readonly kind = 'kafka';
  private producer: Producer | undefined;
  private producerReady: Promise<Producer> | undefined;
  private admin: Promise<Admin> | undefined;
  private readonly knownTopics = new Set<string>();
  private readonly consumers = new Set<Consumer>();

  constructor(
    private readonly kafka: Kafka,
    private readonly options: KafkaEventBusOptions = {},
  ) {}

  private getAdmin(): Promise<Admin> {
    this.admin ??= (async () => {
      const admin = this.kafka.admin();
      await admin.connect();
      return admin;
    })();
    return this.admin;
  }

  /** Creates the topic if missing (idempotent). */
  async ensureTopic(topic: string): Promise<void> {
    if (this.knownTopics.has(topic)) return;
    const admin = await this.getAdmin();
    await admin.createTopics({
      topics: [{ topic, numPartitions: this.options.partitions ?? 3 }],
      waitForLeaders: true,
    });
    this.knownTopics.add(topic);
  }

  private getProducer(): Promise<Producer> {
    this.producerReady ??= (async () => {
      const producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      this.producer = producer;
      return producer;
    })();
    return this.producerReady;
  }

  async publish(event: EventEnvelope): Promise<void> {
    await this.ensureTopic(event.topic);
    const producer = await this.getProducer();
    await producer.send({
      topic: event.topic,
      acks: -1,
      messages: [{ key: event.tenantId, value: JSON.stringify(event) }],
    });
  }

  subscribe(topic: string, signal?: AbortSignal): Subscription {
    const consumer = this.kafka.consumer({
      groupId: `${this.options.groupPrefix ?? 'soma-live'}-${randomUUID()}`,
    });
    this.consumers.add(consumer);
    const queue: EventEnvelope[] = [];
    let wake: (() => void) | null = null;
    let finished = false;
    const finish = async () => {
      if (finished) return;
      finished = true;
      wake?.();
      this.consumers.delete(consumer);
      await consumer.disconnect().catch(() => undefined);
    };
    signal?.addEventListener('abort', () => void finish(), { once: true });

    const ready = (async () => {
      await this.ensureTopic(topic);
      const admin = await this.getAdmin();
      // The end of every partition NOW: what this subscriber starts from.
      const ends = await whileLeadersMove(() => admin.fetchTopicOffsets(topic));
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: false });
      const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
      await consumer.run({
        eachMessage: async ({ message }) => {
          if (!message.value) return;
          queue.push(JSON.parse(message.value.toString()) as EventEnvelope);
          wake?.();
        },
      });
      for (const { partition, offset } of ends) consumer.seek({ topic, partition, offset });
      await joined;
    })();
    ready.catch(() => undefined);

    const iterator: Subscription = {
      ready,
      next: async () => {
        await ready;
        while (queue.length === 0 && !finished) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = null;
        }
        const value = queue.shift();
        return value ? { value, done: false } : { value: undefined, done: true };
      },
      return: async () => {
        await finish();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.disconnect().catch(() => undefined)));
    this.consumers.clear();
    await this.producer?.disconnect().catch(() => undefined);
    if (this.admin) await (await this.admin).disconnect().catch(() => undefined);
  }
}
