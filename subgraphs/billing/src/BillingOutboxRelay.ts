import type { EventBus, SqlDatabase } from '@somaagent/ports';

export interface BillingOutboxRelayOptions {
  /** Polling interval when nothing kicks the relay (e.g. rows left by a crashed process). @default 1000 */
  pollMs?: number;
  /** Rows per transaction. @default 100 */
  batchSize?: number;
}

/**
 * Transactional outbox, as in the sessions domain (each domain owns its outbox; subgraphs share
 * no code but packages): the settlement writes the event in its transaction (BudgetLedger's
 * recordUsage); the relay publishes committed rows to the event bus and marks them, in one transaction per batch, so a
 * crash between the database write and the publish loses nothing (delivery is at-least-once;
 * consumers dedupe on the `outboxId` in each payload).
 */
export class BillingOutboxRelay implements AsyncDisposable {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly db: SqlDatabase,
    private readonly events: EventBus,
    private readonly options: BillingOutboxRelayOptions = {},
  ) {}

  start(): this {
    const tick = () => {
      if (this.stopped) return;
      this.kick();
      this.timer = setTimeout(tick, this.options.pollMs ?? 1000);
      this.timer.unref();
    };
    tick();
    return this;
  }

  /** Publishes pending rows now (called after a commit that enqueued something). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .then(() => undefined)
      .catch((error) => console.error('[billing] outbox relay failed; will retry', error))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Publishes until no pending row is left; returns how many were published. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const published = await this.db.withScope({ tenantId: null }, async (tx) => {
        const { rows } = await tx.query<{
          id: string;
          tenant_id: string;
          topic: string;
          type: string;
          payload: Record<string, unknown>;
          created_at: Date;
        }>('SELECT * FROM billing.outbox_pending($1)', [this.options.batchSize ?? 100]);
        for (const row of rows) {
          await this.events.publish({
            topic: row.topic,
            tenantId: row.tenant_id,
            type: row.type,
            payload: { ...row.payload, outboxId: row.id },
            occurredAt: new Date(row.created_at).toISOString(),
          });
        }
        if (rows.length > 0) {
          await tx.query('SELECT billing.outbox_mark_published($1::bigint[])', [rows.map((r) => r.id)]);
        }
        return rows.length;
      });
      total += published;
      if (published === 0) return total;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
