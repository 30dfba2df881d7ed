/**
 * Event port. Embedded mode delivers in-process; distributed mode uses Kafka. Subscribers get an
 * async iterator that ends when they `return()` it (a GraphQL client unsubscribing).
 */
export interface EventEnvelope<Payload = unknown> {
  topic: string;
  /** Tenant the event belongs to; consumers filter on it. */
  tenantId: string;
  type: string;
  payload: Payload;
  occurredAt: string;
}

export interface EventBus extends AsyncDisposable {
  readonly kind: string;
  publish(event: EventEnvelope): Promise<void>;
  /**
   * Every event published after `ready` resolves, in publish order per tenant, until the signal
   * aborts or the iterator is returned.
   */
  subscribe(topic: string, signal?: AbortSignal): Subscription;
}

export interface Subscription extends AsyncIterableIterator<EventEnvelope> {
  /** Resolves once the subscription receives everything published from then on. */
  ready: Promise<void>;
}
