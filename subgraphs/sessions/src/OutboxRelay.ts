import type { EventBus, SqlDatabase, SqlExecutor } from '@somaagent/ports';

export interface OutboxRelayOptions {
  /** Polling interval when nothing kicks the relay (e.g. rows left by a crashed process). @default 1000 */
  pollMs?: number;
  /** Rows per transaction. @default 100 */
  batchSize?: number;
}

/**
 * Transactional outbox: `enqueue` writes the event in the caller's transaction; the relay
 * publishes committed rows to the event bus and marks them, in one transaction per batch, so a
 * crash between the database write and the publish loses nothing (delivery is at-least-once;
 * consumers dedupe on the `outboxId` in each payload).
 */
export class OutboxRelay implements AsyncDisposable {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly db: SqlDatabase,
    private readonly events: EventBus,
    private readonly options: OutboxRelayOptions = {},
  ) {}

  /**
   * Writes one event in the caller's transaction. The one exception: sendMessage writes its
   * `message.created` row inside its single write statement (SessionStore.storeMessages, `sessions.send.write`),
   * to keep a statement off the first token's path; a change to the outbox's columns changes both.
   */
  async enqueue(
    tx: SqlExecutor,
    tenantId: string,
    topic: string,
    type: string,
    payload: Record<string, unknown>,
  ) {
    await tx.query(
      'INSERT INTO sessions.outbox (tenant_id, topic, type, payload) VALUES ($1, $2, $3, $4)',
      [tenantId, topic, type, JSON.stringify(payload)],
      { name: 'sessions.outbox.enqueue' },
    );
  }

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
      .catch((error) => console.error('[sessions] outbox relay failed; will retry', error))
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
        }>('SELECT * FROM sessions.outbox_pending($1)', [this.options.batchSize ?? 100]);
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
          await tx.query('SELECT sessions.outbox_mark_published($1::bigint[])', [rows.map((r) => r.id)]);
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
