import { clip, SomaError } from '@somaagent/errors';
import type { OutboxRelay } from '@somaagent/events';
import type { Cursor } from '@somaagent/pagination';
import type { ChatMessage, RecalledPassage, SqlExecutor, TokenUsage, UsageSource } from '@somaagent/ports';
import type { Caller } from './capabilities';
import type { ModelProvider, SessionStatus } from './generated/resolvers-types';
import { CONVERSATION_TOPIC, SLM_REQUESTS_TOPIC } from './recordAnswer';

export interface PersonaRow {
  id: string;
  name: string;
  provider: ModelProvider;
  model: string;
  system_prompt: string;
  temperature: number;
  max_tokens: number;
  recall_k: number;
  created_at: Date;
  cursor_ts: string;
}

export interface SessionRow {
  id: string;
  tenant_id: string;
  user_id: string;
  persona_id: string;
  model: string;
  title: string | null;
  status: SessionStatus;
  prompt_tokens: string;
  completion_tokens: string;
  cost_usd: string;
  last_sequence: string;
  created_at: Date;
  updated_at: Date;
  cursor_ts: string;
}

export interface MessageRow {
  id: string;
  session_id: string;
  role: 'USER' | 'ASSISTANT';
  content: string;
  status: 'STREAMING' | 'COMPLETE' | 'FAILED' | 'CANCELLED';
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: string;
  latency_ms: number | null;
  ttft_ms: number | null;
  finish_reason: string | null;
  citations: RecalledPassage[];
  created_at: Date;
  cursor_ts: string;
}

/** The persona columns a session's model calls are made with. */
export type ModelUseColumns = Pick<
  PersonaRow,
  'id' | 'provider' | 'model' | 'max_tokens' | 'recall_k' | 'system_prompt' | 'temperature'
>;

/** Up to `limit` rows in cursor order (pages ask one more than they show) and the total count. */
export interface RowPage<Row> {
  rows: Row[];
  total: number;
}

/** An answer whose messages were never stored, as it is metered (see `recordUnstoredAnswer`). */
export interface UnstoredAnswer {
  sessionId: string;
  messageId: string;
  provider: ModelProvider;
  model: string;
  used: TokenUsage & { source: UsageSource };
  costUsd: number;
  latencyMs: number;
  ttftMs: number | null;
  /** The sequence above the events already sent: a restarted log continues above it. */
  finalSequence: number;
}

const PERSONA_COLUMNS = `id, name, provider, model, system_prompt, temperature, max_tokens, recall_k, created_at,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_ts`;
const SESSION_COLUMNS = `id, tenant_id, user_id, persona_id, model, title, status, prompt_tokens, completion_tokens,
  cost_usd, last_sequence, created_at, updated_at,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_ts`;
const MESSAGE_COLUMNS = `id, session_id, role, content, status, prompt_tokens, completion_tokens, cost_usd,
  latency_ms, ttft_ms, finish_reason, citations, created_at,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_ts`;

/** Ids are uuids: anything else is answered as not found without asking the database. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The sessions domain's rows and every statement on them. Each method runs on the transaction
 * it is given (the services open them with `db.withScope`, so RLS scopes every statement to the
 * caller's tenant); a change's outbox row is written in the same transaction.
 */
export class SessionStore {
  constructor(
    private readonly outbox: OutboxRelay,
    /** Earlier messages read with each prompt (SessionsLimits.historyMessages). */
    private readonly historyMessages: number,
    /** Written on the answers this process generates (crash repair). */
    private readonly instanceId: string,
  ) {}

  // personas

  async personaNameTaken(tx: SqlExecutor, name: string): Promise<boolean> {
    const existing = await tx.query('SELECT 1 FROM sessions.personas WHERE name = $1', [name]);
    return existing.rowCount > 0;
  }

  async insertPersona(
    tx: SqlExecutor,
    tenantId: string,
    p: Omit<PersonaRow, 'id' | 'created_at' | 'cursor_ts'>,
  ): Promise<PersonaRow> {
    const { rows } = await tx.query<PersonaRow>(
      `INSERT INTO sessions.personas (tenant_id, name, provider, model, system_prompt, temperature, max_tokens, recall_k)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${PERSONA_COLUMNS}`,
      [tenantId, p.name, p.provider, p.model, p.system_prompt, p.temperature, p.max_tokens, p.recall_k],
    );
    return rows[0]!;
  }

  async personaPage(tx: SqlExecutor, after: Cursor | null, limit: number): Promise<RowPage<PersonaRow>> {
    const { rows } = await tx.query<PersonaRow>(
      `SELECT ${PERSONA_COLUMNS} FROM sessions.personas
        WHERE ($1::timestamptz IS NULL OR (created_at, id) > ($1::timestamptz, $2::uuid))
        ORDER BY created_at, id LIMIT $3`,
      [after?.createdAt ?? null, after?.id ?? null, limit],
    );
    const total = await tx.query<{ n: string }>('SELECT count(*) AS n FROM sessions.personas');
    return { rows, total: Number(total.rows[0]!.n) };
  }

  /** The persona, if `id` (a uuid) is one of the tenant's. */
  async persona(tx: SqlExecutor, id: string): Promise<PersonaRow | undefined> {
    const { rows } = await tx.query<PersonaRow>(
      `SELECT ${PERSONA_COLUMNS} FROM sessions.personas WHERE id = $1`,
      [id],
    );
    return rows[0];
  }

  /** What a session's model calls use (its persona's), if the session is the tenant's. */
  async modelUseColumns(tx: SqlExecutor, sessionId: string): Promise<ModelUseColumns | undefined> {
    const { rows } = await tx.query<ModelUseColumns>(
      `SELECT p.id, p.provider, p.model, p.max_tokens, p.recall_k, p.system_prompt, p.temperature FROM sessions.sessions s
         JOIN sessions.personas p ON p.id = s.persona_id WHERE s.id = $1`,
      [sessionId],
    );
    return rows[0];
  }

  // sessions

  /** A new OPEN session of `persona` and its `session.started` event. */
  async insertSession(
    tx: SqlExecutor,
    caller: Caller,
    persona: PersonaRow,
    title: string | null,
  ): Promise<SessionRow> {
    const { rows } = await tx.query<SessionRow>(
      `INSERT INTO sessions.sessions (tenant_id, user_id, persona_id, model, title)
       VALUES ($1, $2, $3, $4, $5) RETURNING ${SESSION_COLUMNS}`,
      [caller.tenantId, caller.subject, persona.id, persona.model, title],
      { name: 'sessions.start.insert' },
    );
    const session = rows[0]!;
    await this.outbox.enqueue(tx, caller.tenantId, CONVERSATION_TOPIC, 'session.started', {
      sessionId: session.id,
      personaId: persona.id,
      userId: caller.subject,
      model: persona.model,
    });
    return session;
  }

  async sessionPage(
    tx: SqlExecutor,
    after: Cursor | null,
    status: SessionStatus | null,
    limit: number,
  ): Promise<RowPage<SessionRow>> {
    const { rows } = await tx.query<SessionRow>(
      `SELECT ${SESSION_COLUMNS} FROM sessions.sessions
        WHERE ($1::timestamptz IS NULL OR (created_at, id) < ($1::timestamptz, $2::uuid))
          AND ($3::text IS NULL OR status = $3)
        ORDER BY created_at DESC, id DESC LIMIT $4`,
      [after?.createdAt ?? null, after?.id ?? null, status, limit],
    );
    const total = await tx.query<{ n: string }>(
      'SELECT count(*) AS n FROM sessions.sessions WHERE ($1::text IS NULL OR status = $1)',
      [status],
    );
    return { rows, total: Number(total.rows[0]!.n) };
  }

  /** The session if it is the tenant's (locked with `forUpdate`); NOT_FOUND otherwise. */
  async session(tx: SqlExecutor, id: string, forUpdate = false): Promise<SessionRow> {
    if (UUID.test(id)) {
      const { rows } = await tx.query<SessionRow>(
        `SELECT ${SESSION_COLUMNS} FROM sessions.sessions WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
        [id],
        { name: forUpdate ? 'sessions.session.lock' : 'sessions.session' },
      );
      if (rows[0]) return rows[0];
    }
    // Another tenant's session answers exactly like a missing one: no existence oracle.
    throw new SomaError('NOT_FOUND', `session ${clip(id)} not found`, { field: 'sessionId' });
  }

  /** Closes the session and writes its `session.closed` event. */
  async closeSession(tx: SqlExecutor, tenantId: string, id: string): Promise<SessionRow> {
    const { rows } = await tx.query<SessionRow>(
      `UPDATE sessions.sessions SET status = 'CLOSED', updated_at = now() WHERE id = $1 RETURNING ${SESSION_COLUMNS}`,
      [id],
    );
    await this.outbox.enqueue(tx, tenantId, CONVERSATION_TOPIC, 'session.closed', { sessionId: id });
    return rows[0]!;
  }

  // messages

  async messagePage(
    tx: SqlExecutor,
    sessionId: string,
    after: Cursor | null,
    limit: number,
  ): Promise<RowPage<MessageRow>> {
    const { rows } = await tx.query<MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM sessions.messages
        WHERE session_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2::timestamptz, $3::uuid))
        ORDER BY created_at, id LIMIT $4`,
      [sessionId, after?.createdAt ?? null, after?.id ?? null, limit],
    );
    const total = await tx.query<{ n: string }>(
      'SELECT count(*) AS n FROM sessions.messages WHERE session_id = $1',
      [sessionId],
    );
    return { rows, total: Number(total.rows[0]!.n) };
  }

  /** The message, if `id` (a uuid) is one of the tenant's. */
  async message(tx: SqlExecutor, id: string): Promise<MessageRow | undefined> {
    const { rows } = await tx.query<MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM sessions.messages WHERE id = $1`,
      [id],
    );
    return rows[0];
  }

  /** The session's persona and its recent COMPLETE messages (oldest first), in one statement. */
  async personaAndHistory(
    tx: SqlExecutor,
    session: SessionRow,
  ): Promise<PersonaRow & { history: ChatMessage[] }> {
    // One statement: each statement on the embedded database is ~0.3 ms on the event loop.
    const { history, ...persona } = (
      await tx.query<PersonaRow & { history: { role: 'USER' | 'ASSISTANT'; content: string }[] }>(
        `SELECT ${PERSONA_COLUMNS}, (
           SELECT coalesce(json_agg(json_build_object('role', r.role, 'content', r.content)
                                    ORDER BY r.created_at, r.id), '[]'::json)
             FROM (SELECT role, content, created_at, id FROM sessions.messages
                    WHERE session_id = $2 AND status = 'COMPLETE'
                    ORDER BY created_at DESC, id DESC LIMIT $3) r
         ) AS history
         FROM sessions.personas WHERE id = $1`,
        [session.persona_id, session.id, this.historyMessages],
        { name: 'sessions.send.persona-history' },
      )
    ).rows[0]!;
    return {
      ...(persona as PersonaRow),
      history: history.map((m) => ({
        role: m.role === 'USER' ? ('user' as const) : ('assistant' as const),
        content: m.content,
      })),
    };
  }

  /**
   * The question and the answer's row (STREAMING) in ONE statement, with the session's
   * updated_at and the `message.created` outbox row (four round trips through the embedded
   * database's event loop, else). `assistantId` when the answer's events already carry it.
   */
  async storeMessages(
    tx: SqlExecutor,
    caller: Caller,
    sessionId: string,
    content: string,
    recalled: { passages: RecalledPassage[] } | null,
    assistantId: string | null = null,
  ): Promise<{ userMessage: MessageRow; assistantMessage: MessageRow }> {
    // created_at strictly increases within a session: the embedded database's clock has
    // millisecond resolution, so a question and its answer row, inserted in the same
    // millisecond, would otherwise tie and be listed in uuid order (seen in the quickstart).
    const inserted = await tx.query<MessageRow>(
      `WITH stamp AS (
         SELECT GREATEST(clock_timestamp(),
           (SELECT max(created_at) FROM sessions.messages WHERE session_id = $2::uuid) + interval '1 microsecond') AS at
       ), added AS (
         INSERT INTO sessions.messages (id, tenant_id, session_id, role, content, status, citations, created_at, generator)
         SELECT m.id, $1::uuid, $2::uuid, m.role, m.content, m.status, m.citations, stamp.at + m.later, m.generator
           FROM stamp, (VALUES (gen_random_uuid(), 'USER', $3::text, 'COMPLETE', '[]'::jsonb, interval '0', NULL::uuid),
                               (coalesce($8::uuid, gen_random_uuid()), 'ASSISTANT', '', 'STREAMING', $4::jsonb,
                                interval '1 microsecond', $9::uuid))
                AS m(id, role, content, status, citations, later, generator)
         RETURNING ${MESSAGE_COLUMNS}
       ), touched AS (
         UPDATE sessions.sessions SET updated_at = now() WHERE id = $2::uuid
       ), queued AS (
         INSERT INTO sessions.outbox (tenant_id, topic, type, payload)
         SELECT $1::uuid, $5::text, 'message.created', jsonb_build_object('sessionId', $2::text,
                  'messageId', added.id, 'role', 'USER', 'userId', $6::text, 'chars', $7::int)
           FROM added WHERE added.role = 'USER'
       )
       SELECT * FROM added`,
      [
        caller.tenantId,
        sessionId,
        content,
        JSON.stringify(recalled?.passages ?? []),
        CONVERSATION_TOPIC,
        caller.subject,
        content.length,
        assistantId,
        this.instanceId,
      ],
      // Planned once: this four-part statement cost ~570 µs to plan on PGlite, every message.
      { name: 'sessions.send.write' },
    );
    return {
      userMessage: inserted.rows.find((m) => m.role === 'USER')!,
      assistantMessage: inserted.rows.find((m) => m.role === 'ASSISTANT')!,
    };
  }

  /**
   * Meters an answer whose messages were never stored: on the session's totals (its sequence
   * floor raised above the events already sent) and on slm.requests (status FAILED,
   * finishReason not_stored; there is no message row).
   */
  async recordUnstoredAnswer(tx: SqlExecutor, caller: Caller, a: UnstoredAnswer): Promise<void> {
    await tx.query(
      `UPDATE sessions.sessions SET last_sequence = GREATEST(last_sequence, $2), prompt_tokens = prompt_tokens + $3,
              completion_tokens = completion_tokens + $4, cost_usd = cost_usd + $5 WHERE id = $1`,
      [a.sessionId, a.finalSequence, a.used.promptTokens, a.used.completionTokens, a.costUsd],
    );
    await this.outbox.enqueue(tx, caller.tenantId, SLM_REQUESTS_TOPIC, 'slm.request', {
      sessionId: a.sessionId,
      messageId: a.messageId,
      userId: caller.subject,
      provider: a.provider,
      model: a.model,
      promptTokens: a.used.promptTokens,
      completionTokens: a.used.completionTokens,
      usageSource: a.used.source,
      costUsd: a.costUsd,
      latencyMs: a.latencyMs,
      timeToFirstTokenMs: a.ttftMs,
      status: 'FAILED',
      finishReason: 'not_stored',
    });
  }
}
