import type { EventBus, SqlDatabase, SqlExecutor } from '@somaagent/ports';

export interface OutboxRelayOptions {
  /**
   * The domain's schema: it owns the table `<schema>.outbox (tenant_id, topic, type, payload)` and
   * the definer functions `<schema>.outbox_pending(limit)` and `<schema>.outbox_mark_published(ids)`
   * (see the sessions and billing migrations). Each domain keeps its own outbox; this relay is the
   * one piece of code that drains any of them.
   */
  schema: string;
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
  private readonly schema: string;

  constructor(
    private readonly db: SqlDatabase,
    private readonly events: EventBus,
    private readonly options: OutboxRelayOptions,
  ) {
    // Interpolated into SQL: only a plain identifier.
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(options.schema))
      throw new RangeError(`OutboxRelay: "${options.schema}" is not a schema name`);
    this.schema = options.schema;
  }

  /**
   * Writes one event in the caller's transaction. (A domain may also write its row inside a
   * statement of its own, as sessions' sendMessage does to keep a statement off the first
   * token's path; a change to the outbox's columns changes both.)
   */
  async enqueue(
    tx: SqlExecutor,
    tenantId: string,
    topic: string,
    type: string,
    payload: Record<string, unknown>,
  ) {
    await tx.query(
      `INSERT INTO ${this.schema}.outbox (tenant_id, topic, type, payload) VALUES ($1, $2, $3, $4)`,
      [tenantId, topic, type, JSON.stringify(payload)],
      { name: `${this.schema}.outbox.enqueue` },
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
      .catch((error) => console.error(`[${this.schema}] outbox relay failed; will retry`, error))
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
        }>(`SELECT * FROM ${this.schema}.outbox_pending($1)`, [this.options.batchSize ?? 100]);
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
          await tx.query(`SELECT ${this.schema}.outbox_mark_published($1::bigint[])`, [
            rows.map((r) => r.id),
          ]);
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
