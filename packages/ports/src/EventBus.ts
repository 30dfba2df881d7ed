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
  subscribe(topic: string, signal?: AbortSignal): AsyncIterableIterator<EventEnvelope>;
}
