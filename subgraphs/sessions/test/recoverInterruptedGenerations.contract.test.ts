import { randomUUID } from 'node:crypto';
import { InMemoryStreamLog, InProcessEventBus, OutboxRelay } from '@somaagent/events';
import type { SqlDatabase } from '@somaagent/ports';
import { PgliteSqlDatabase } from '@somaagent/postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../tests/support/postgres';
import { sessionsMigrations } from '../src/index';
import { recoverInterruptedGenerations } from '../src/recoverInterruptedGenerations';
import { sessionStream } from '../src/SessionEventFeed';

// The repair of answers left STREAMING (issue 14, item 12) on both database adapters, with the
// rules of a database server shared by replicas: only answers whose generator missed its
// heartbeats are ended; a live replica's and this process's own are left alone.
const adapters: [string, () => Promise<SqlDatabase & { asOwner: PgliteSqlDatabase['asOwner'] }>][] = [
  ['pglite', () => PgliteSqlDatabase.open()],
  ['postgres', () => createTestDatabase()],
];

const TENANT_A = '00000000-0000-4000-8000-00000000000a';
const TENANT_B = '00000000-0000-4000-8000-00000000000b';
const PRICES = { 'soma-tiny': { promptUsdPerMillion: 0.1, completionUsdPerMillion: 0.4 } };

describe.each(adapters)('recoverInterruptedGenerations on %s', (_name, open) => {
  let db: Awaited<ReturnType<typeof open>>;
  let streams: InMemoryStreamLog;
  afterEach(async () => {
    await streams?.[Symbol.asyncDispose]();
    await db?.[Symbol.asyncDispose]();
  });

  /** A session with a question and an answer STREAMING under `generator`, as a checkpoint left it. */
  async function streamingAnswer(tenantId: string, generator: string, tokens: [number, number]) {
    return db.withScope({ tenantId }, async (tx) => {
      const persona = (
        await tx.query<{ id: string }>(
          `INSERT INTO sessions.personas (tenant_id, name, provider, model, system_prompt, temperature, max_tokens)
           VALUES ($1, $2, 'LOCAL', 'soma-tiny', '', 0, 64) RETURNING id`,
          [tenantId, `p-${randomUUID()}`],
        )
      ).rows[0]!.id;
      const session = (
        await tx.query<{ id: string }>(
          `INSERT INTO sessions.sessions (tenant_id, user_id, persona_id, model, last_sequence)
           VALUES ($1, 'user-1', $2, 'soma-tiny', 7) RETURNING id`,
          [tenantId, persona],
        )
      ).rows[0]!.id;
      await tx.query(
        `INSERT INTO sessions.messages (tenant_id, session_id, role, content, status) VALUES ($1, $2, 'USER', 'hi', 'COMPLETE')`,
        [tenantId, session],
      );
      const message = (
        await tx.query<{ id: string }>(
          `INSERT INTO sessions.messages (tenant_id, session_id, role, content, status, prompt_tokens, completion_tokens, generator)
           VALUES ($1, $2, 'ASSISTANT', 'once upon', 'STREAMING', $3, $4, $5) RETURNING id`,
          [tenantId, session, tokens[0], tokens[1], generator],
        )
      ).rows[0]!.id;
      return { session, message };
    });
  }

  const seen = (generator: string) =>
    db.withScope({ tenantId: null }, (tx) => tx.query('SELECT sessions.generator_seen($1)', [generator]));

  const messageRow = (tenantId: string, id: string) =>
    db.withScope({ tenantId }, async (tx) => {
      const { rows } = await tx.query<Record<string, unknown>>(
        'SELECT status, finish_reason, content, prompt_tokens, completion_tokens, cost_usd FROM sessions.messages WHERE id = $1',
        [id],
      );
      return rows[0]!;
    });

  it('ends a dead generator’s answers (any tenant) FAILED with their checkpointed usage; leaves live and own ones', async () => {
    db = await open();
    await db.migrate(sessionsMigrations);
    streams = new InMemoryStreamLog();
    const self = randomUUID();
    const live = randomUUID();
    const dead = randomUUID();
    await seen(live);
    const deadA = await streamingAnswer(TENANT_A, dead, [33, 120]);
    const deadB = await streamingAnswer(TENANT_B, randomUUID(), [10, 5]); // never had a heartbeat row
    const liveA = await streamingAnswer(TENANT_A, live, [1, 1]);
    const ownA = await streamingAnswer(TENANT_A, self, [1, 1]);
    const outbox = new OutboxRelay(db, new InProcessEventBus(), { schema: 'sessions' }); // not started: rows stay visible
    const deps = {
      db,
      streams,
      outbox,
      prices: PRICES,
      instanceId: self,
      heartbeatMs: 10_000,
      streamOf: sessionStream,
    };

    expect(await recoverInterruptedGenerations(deps, 30_000)).toBe(2);
    const cost = (33 * 0.1 + 120 * 0.4) / 1e6;
    expect(await messageRow(TENANT_A, deadA.message)).toMatchObject({
      status: 'FAILED',
      finish_reason: 'interrupted',
      content: 'once upon',
      prompt_tokens: 33,
      completion_tokens: 120,
    });
    expect(Number((await messageRow(TENANT_A, deadA.message)).cost_usd)).toBeCloseTo(cost, 10);
    expect(await messageRow(TENANT_B, deadB.message)).toMatchObject({
      status: 'FAILED',
      completion_tokens: 5,
    });
    expect((await messageRow(TENANT_A, liveA.message)).status).toBe('STREAMING');
    expect((await messageRow(TENANT_A, ownA.message)).status).toBe('STREAMING');

    // Metered like any answer: the session's totals and sequence, the outbox rows, the stream.
    const session = await db.withScope({ tenantId: TENANT_A }, async (tx) => {
      const { rows } = await tx.query<Record<string, string>>(
        'SELECT prompt_tokens, completion_tokens, cost_usd, last_sequence FROM sessions.sessions WHERE id = $1',
        [deadA.session],
      );
      return rows[0]!;
    });
    expect([
      Number(session.prompt_tokens),
      Number(session.completion_tokens),
      Number(session.last_sequence),
    ]).toEqual([33, 120, 9]);
    expect(Number(session.cost_usd)).toBeCloseTo(cost, 10);
    const queued = await db.withScope({ tenantId: TENANT_A }, async (tx) => {
      const { rows } = await tx.query<{ topic: string; type: string; payload: Record<string, unknown> }>(
        `SELECT topic, type, payload FROM sessions.outbox WHERE payload->>'messageId' = $1 ORDER BY id`,
        [deadA.message],
      );
      return rows;
    });
    expect(queued.map((r) => `${r.topic}:${r.type}`)).toEqual([
      'slm.requests:slm.request',
      'conversation.events:message.failed',
    ]);
    expect(queued[0]!.payload).toMatchObject({
      status: 'FAILED',
      finishReason: 'interrupted',
      promptTokens: 33,
      completionTokens: 120,
      usageSource: 'checkpoint',
      userId: 'user-1',
    });
    const events = [];
    const abort = new AbortController();
    for await (const e of streams.subscribe(sessionStream(deadA.session), 0, abort.signal)) {
      events.push(e);
      if (events.length === 2) break;
    }
    expect(events.map((e) => [e.sequence, (e.payload as { type: string }).type])).toEqual([
      [8, 'USAGE'],
      [9, 'FAILED'],
    ]);
    expect(events[1]!.payload).toMatchObject({ code: 'UNAVAILABLE', retriable: true });

    // Once only: a second pass repairs nothing and queues nothing more.
    expect(await recoverInterruptedGenerations(deps, 30_000)).toBe(0);
    // With no grace (the in-process database at start-up), the live replica's answer is an orphan too; own ones never.
    expect(await recoverInterruptedGenerations(deps, 0)).toBe(1);
    expect((await messageRow(TENANT_A, liveA.message)).status).toBe('FAILED');
    expect((await messageRow(TENANT_A, ownA.message)).status).toBe('STREAMING');
    await outbox[Symbol.asyncDispose](); // the repair kicked it: let its drain end before the database
  });

  it('the application role cannot read the generators table; only the definer functions reach it', async () => {
    db = await open();
    await db.migrate(sessionsMigrations);
    streams = new InMemoryStreamLog();
    await seen(randomUUID());
    const denied = await db
      .withScope({ tenantId: TENANT_A }, (tx) => tx.query('SELECT * FROM sessions.generators'))
      .then(
        () => 'read',
        (e: Error) => e.message,
      );
    expect(denied).toMatch(/permission denied/);
  });
});
