import type { EventBus, EventEnvelope, Subscription } from '@somaagent/ports';

interface Subscriber {
  push(event: EventEnvelope): void;
  end(): void;
}

/**
 * Embedded-mode event bus: delivers to subscribers of the same process, in publish order.
 * Each subscriber has its own unbounded queue; a slow GraphQL client only delays itself.
 */
export class InProcessEventBus implements EventBus {
  readonly kind = 'in-process';
  private readonly subscribers = new Map<string, Set<Subscriber>>();

  async publish(event: EventEnvelope): Promise<void> {
    for (const subscriber of this.subscribers.get(event.topic) ?? []) subscriber.push(event);
  }

  /** Number of live subscriptions on a topic (tests assert that unsubscribing releases them). */
  subscriberCount(topic: string): number {
    return this.subscribers.get(topic)?.size ?? 0;
  }

  subscribe(topic: string, signal?: AbortSignal): Subscription {
    const queue: EventEnvelope[] = [];
    let wake: (() => void) | null = null;
    let done = false;
    const set = this.subscribers.get(topic) ?? new Set<Subscriber>();
    this.subscribers.set(topic, set);
    const subscriber: Subscriber = {
      push(event) {
        queue.push(event);
        wake?.();
      },
      end() {
        done = true;
        wake?.();
      },
    };
    set.add(subscriber);
    const release = () => {
      subscriber.end();
      set.delete(subscriber);
      if (set.size === 0) this.subscribers.delete(topic);
    };
    signal?.addEventListener('abort', release, { once: true });

    const iterator: Subscription = {
      ready: Promise.resolve(),
      async next() {
        while (queue.length === 0 && !done) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = null;
        }
        const value = queue.shift();
        if (value !== undefined) return { value, done: false };
        return { value: undefined, done: true };
      },
      async return() {
        release();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const set of this.subscribers.values()) for (const s of set) s.end();
    this.subscribers.clear();
  }
}
