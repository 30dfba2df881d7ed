import { randomUUID } from 'node:crypto';
import { clip, SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import { type Connection, pageArgs, toConnection } from '@somaagent/pagination';
import { type PolicyDecider, policySubject } from '@somaagent/policy';
import type {
  ChatChunk,
  ChatMessage,
  ChatModel,
  ContextRetriever,
  RecalledPassage,
  SqlDatabase,
  SqlExecutor,
  StreamLog,
  TokenUsage,
  UsageSource,
} from '@somaagent/ports';
import { ChatModelError } from '@somaagent/ports';
import { type Caller, requireCaller } from './capabilities';
import { type GenerationCheckpoints, startCheckpoints } from './GenerationCheckpoints';
import type { GenerationSlots } from './GenerationSlots';
import type { ModelProvider } from './generated/resolvers-types';
import type { OutboxRelay } from './OutboxRelay';
import type { PriceTable } from './prices';
import { answerCost, CONVERSATION_TOPIC, recordAnswer, SLM_REQUESTS_TOPIC } from './recordAnswer';

export { CONVERSATION_TOPIC, SLM_REQUESTS_TOPIC } from './recordAnswer';

export interface SessionsLimits {
  /** @default 32_000 characters */
  maxMessageChars: number;
  /** Earlier messages sent with each prompt. @default 20 */
  historyMessages: number;
  /** A generation whose last watcher disconnected is cancelled after this. @default 300 ms */
  disconnectGraceMs: number;
  /**
   * An answer still generating this long after its model request started is stopped and ends
   * FAILED (`finishReason` `timeout`, code UNAVAILABLE, retriable), metered like any other.
   * @default 600_000 ms (10 minutes)
   */
  generationTimeoutMs: number;
  /**
   * While an answer streams, its text so far and the engine's running counts are written to
   * its STREAMING row this often (only when tokens arrived since), so a crash loses at most
   * this much of its metering. Never within the first-token window. @default 2_000 ms
   */
  checkpointMs: number;
  /**
   * A sessions process writes a heartbeat this often; on a database server, answers left
   * STREAMING by a process unseen for 3 heartbeats are repaired (see
   * recoverInterruptedGenerations). On the in-process database every such answer is repaired at
   * start-up. @default 10_000 ms
   */
  heartbeatMs: number;
}

export const DEFAULT_SESSIONS_LIMITS: SessionsLimits = {
  maxMessageChars: 32_000,
  historyMessages: 20,
  disconnectGraceMs: 300,
  generationTimeoutMs: 600_000,
  checkpointMs: 2_000,
  heartbeatMs: 10_000,
};

/** The abort reason of an answer stopped by `generationTimeoutMs`. */
class GenerationTimeout extends Error {
  constructor(ms: number) {
    super(
      `the answer was still generating after ${ms} ms and was stopped; what it produced is stored and metered — send a shorter request or raise generationTimeoutMs`,
    );
    this.name = 'GenerationTimeout';
  }
}

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
  status: 'OPEN' | 'CLOSED';
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

/** What the session event stream carries (the GraphQL SessionEvent minus sequence/sessionId). */
export type SessionEventPayload =
  | { type: 'TOKEN'; messageId: string; delta: string; occurredAt: string }
  | {
      type: 'USAGE';
      messageId: string;
      promptTokens: number;
      completionTokens: number;
      costUsd: number;
      occurredAt: string;
    }
  | { type: 'COMPLETED'; messageId: string; finishReason: string; occurredAt: string }
  | {
      type: 'FAILED';
      messageId: string;
      code: string;
      message: string;
      retriable: boolean;
      occurredAt: string;
    }
  | { type: 'CANCELLED'; messageId: string; occurredAt: string };

const PERSONA_COLUMNS = `id, name, provider, model, system_prompt, temperature, max_tokens, recall_k, created_at,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_ts`;
const SESSION_COLUMNS = `id, tenant_id, user_id, persona_id, model, title, status, prompt_tokens, completion_tokens,
  cost_usd, last_sequence, created_at, updated_at,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_ts`;
const MESSAGE_COLUMNS = `id, session_id, role, content, status, prompt_tokens, completion_tokens, cost_usd,
  latency_ms, ttft_ms, finish_reason, citations, created_at,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_ts`;

/** How long answerFirst lets the first token go first before it stores the messages anyway. */
const BOOKING_WAIT_MS = 250;
/** …and how long after the first token it waits for a subscriber to have taken it. */
const HANDOVER_WAIT_MS = 20;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An answer being generated: the session is busy until `release()`. */
interface ReservedGeneration {
  abort: AbortController;
  /** The answer's message id ('' until it is known). */
  messageId: string;
  /** Settles once the answer is stored and its session released. */
  done: Promise<void>;
  release(): void;
}

/** What this process knows of a session it answered (see `conversations`). */
interface KnownConversation {
  history: ChatMessage[];
  lastSequence: number;
}

/** Whether the answer's two messages were stored (answerFirst stores them after the first token). */
type BookingOutcome = { stored: true } | { stored: false; error: unknown };

/** One answer as generate() streams and books it. */
interface Answer {
  sessionId: string;
  messageId: string;
  provider: ModelProvider;
  model: string;
  chunks: AsyncIterable<ChatChunk>;
  modelStartedAt: number;
  /** The history the prompt was built with (the next answer's prompt starts from it). */
  recent: ChatMessage[];
  question: string;
  /** The session's stored last event sequence: this answer's events go above it. */
  floor: number;
  booking: Promise<BookingOutcome>;
  /** Called with each token's sequence, and without one when the model stream ends (answerFirst books then). */
  onAnswering?: (sequence?: number) => void;
}

/** What a session's model calls are made with (its persona's; personas never change). */
interface SessionModelUse {
  personaId: string;
  provider: ModelProvider;
  model: string;
  maxTokens: number;
  recallK: number;
  systemPrompt: string;
  temperature: number;
}

/** Sessions whose model use / recent history this process keeps (oldest forgotten first). */
const CACHED_SESSIONS = 5_000;

const setBounded = <V>(map: Map<string, V>, key: string, value: V) => {
  map.delete(key);
  map.set(key, value);
  if (map.size > CACHED_SESSIONS) map.delete(map.keys().next().value!);
};

/** The policy every model call is asked of (policies/somaagent/authz: the tenant's constitution). */
export const MODEL_POLICY = 'constitution.model';

/** Stream key of a session's events in the StreamLog. */
export const sessionStream = (sessionId: string) => `session:${sessionId}`;

/**
 * The sessions domain: personas, sessions, messages, and answers generated token by token.
 * Every database access runs inside `db.withScope` for the caller's tenant (RLS); events a
 * change produces go to the outbox in the same transaction.
 */
export class SessionService {
  /** This process's generator id: written on the answers it generates (crash repair). */
  readonly instanceId = randomUUID();
  private readonly active = new Map<string, ReservedGeneration>();
  /** Sessions whose model stream is still open (the part that costs tokens). */
  private readonly streaming = new Set<string>();
  private readonly watchers = new Map<string, number>();
  private readonly cancelTimers = new Map<string, NodeJS.Timeout>();
  private readonly handOver = new Map<string, Set<(sequence: number) => void>>();

  constructor(
    private readonly db: SqlDatabase,
    private readonly streams: StreamLog,
    private readonly models: Partial<Record<ModelProvider, ChatModel>>,
    private readonly prices: PriceTable,
    private readonly outbox: OutboxRelay,
    private readonly limits: SessionsLimits,
    /** Asks `constitution.model` before every model call (fail-closed, audited). */
    private readonly policy: PolicyDecider,
    /** Memory recall for personas with recallK > 0; without it, personas answer without memory. */
    private readonly retriever?: ContextRetriever,
    /** The concurrent-generation quota (per user and per tenant); without it, no quota. */
    private readonly slots?: GenerationSlots,
  ) {}

  /**
   * Personas and a session's persona never change, so what a session's model calls use is
   * looked up once per session. Keyed by tenant too: another tenant's request for the same id
   * must not see this tenant's persona (its model name would leak into a policy denial).
   */
  private readonly modelUseBySession = new Map<string, SessionModelUse>();
  /**
   * What this process knows of sessions it answered: the recent COMPLETE messages, as the next
   * prompt needs them, and the session's last event sequence. Lets the model request start
   * before the transaction (time to first token). On a database server only a guess (the
   * transaction reads the real history and restarts the request if they differ); on an
   * in-process database, whose only client this process is, the truth (see answerFirst).
   */
  private readonly conversations = new Map<string, KnownConversation>();

  // ------------------------------------------------------------------------------------------
  // personas

  async createPersona(
    claims: VerifiedClaims | null,
    input: {
      name: string;
      provider?: ModelProvider | null;
      model: string;
      systemPrompt: string;
      temperature?: number | null;
      maxTokens?: number | null;
      recallK?: number | null;
    },
  ): Promise<PersonaRow> {
    const caller = requireCaller(claims, 'personas:write');
    const provider = input.provider ?? (this.models.OPENAI_COMPATIBLE ? 'OPENAI_COMPATIBLE' : 'LOCAL');
    const temperature = input.temperature ?? 0.7;
    const maxTokens = input.maxTokens ?? 512;
    const recallK = input.recallK ?? 0;
    const name = input.name.trim();
    if (name.length < 1 || name.length > 200) throw badInput('name', 'name must be 1-200 characters');
    if (!this.prices[input.model]) {
      throw badInput(
        'model',
        `model "${clip(input.model)}" is not in the price table; known: ${Object.keys(this.prices).join(', ')}`,
      );
    }
    if (!this.models[provider])
      throw badInput('provider', `provider ${clip(provider)} is not configured on this server`);
    if (input.systemPrompt.length > 20_000)
      throw badInput('systemPrompt', 'systemPrompt is limited to 20000 characters');
    if (!(temperature >= 0 && temperature <= 2))
      throw badInput('temperature', 'temperature must be between 0 and 2');
    if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > 4096) {
      throw badInput('maxTokens', 'maxTokens must be an integer between 1 and 4096');
    }
    if (!Number.isInteger(recallK) || recallK < 0 || recallK > 20) {
      throw badInput('recallK', 'recallK must be an integer between 0 and 20');
    }
    if (recallK > 0 && !this.retriever)
      throw badInput('recallK', 'memory recall is not configured on this server');
    return this.db.withScope({ tenantId: caller.tenantId }, async (tx) => {
      const existing = await tx.query('SELECT 1 FROM sessions.personas WHERE name = $1', [name]);
      if (existing.rowCount > 0) throw new SomaError('CONFLICT', `a persona named "${name}" already exists`);
      const { rows } = await tx.query<PersonaRow>(
        `INSERT INTO sessions.personas (tenant_id, name, provider, model, system_prompt, temperature, max_tokens, recall_k)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${PERSONA_COLUMNS}`,
        [caller.tenantId, name, provider, input.model, input.systemPrompt, temperature, maxTokens, recallK],
      );
      return rows[0]!;
    });
  }

  async personas(
    claims: VerifiedClaims | null,
    args: { first?: number | null; after?: string | null },
  ): Promise<Connection<PersonaRow>> {
    const caller = requireCaller(claims, 'sessions:read');
    const { first, after } = pageArgs(args);
    return this.db.withScope({ tenantId: caller.tenantId }, async (tx) => {
      const { rows } = await tx.query<PersonaRow>(
        `SELECT ${PERSONA_COLUMNS} FROM sessions.personas
          WHERE ($1::timestamptz IS NULL OR (created_at, id) > ($1::timestamptz, $2::uuid))
          ORDER BY created_at, id LIMIT $3`,
        [after?.createdAt ?? null, after?.id ?? null, first + 1],
      );
      const total = await tx.query<{ n: string }>('SELECT count(*) AS n FROM sessions.personas');
      return toConnection(rows, first, Number(total.rows[0]!.n), (r) => r);
    });
  }

  async personaById(claims: VerifiedClaims | null, id: string): Promise<PersonaRow | null> {
    const caller = requireCaller(claims, 'sessions:read');
    if (!UUID.test(id)) return null;
    return this.db.withScope({ tenantId: caller.tenantId }, async (tx) => {
      const { rows } = await tx.query<PersonaRow>(
        `SELECT ${PERSONA_COLUMNS} FROM sessions.personas WHERE id = $1`,
        [id],
      );
      return rows[0] ?? null;
    });
  }

  // ------------------------------------------------------------------------------------------
  // sessions

  async startSession(
    claims: VerifiedClaims | null,
    input: { personaId: string; title?: string | null },
  ): Promise<SessionRow> {
    const caller = requireCaller(claims, 'sessions:write');
    if (input.title && input.title.length > 200)
      throw badInput('title', 'title is limited to 200 characters');
    return this.db.withScope({ tenantId: caller.tenantId }, async (tx) => {
      const persona = UUID.test(input.personaId)
        ? (
            await tx.query<PersonaRow>(`SELECT ${PERSONA_COLUMNS} FROM sessions.personas WHERE id = $1`, [
              input.personaId,
            ])
          ).rows[0]
        : undefined;
      if (!persona)
        throw new SomaError('NOT_FOUND', `persona ${clip(input.personaId)} not found`, {
          field: 'personaId',
        });
      const { rows } = await tx.query<SessionRow>(
        `INSERT INTO sessions.sessions (tenant_id, user_id, persona_id, model, title)
         VALUES ($1, $2, $3, $4, $5) RETURNING ${SESSION_COLUMNS}`,
        [caller.tenantId, caller.subject, persona.id, persona.model, input.title ?? null],
        { name: 'sessions.start.insert' },
      );
      const session = rows[0]!;
      // The first sendMessage then needs no lookup of its own (it is on the time-to-first-token path).
      setBounded(this.modelUseBySession, `${caller.tenantId}:${session.id}`, toModelUse(persona));
      setBounded(this.conversations, `${caller.tenantId}:${session.id}`, {
        history: [],
        lastSequence: Number(session.last_sequence),
      });
      await this.outbox.enqueue(tx, caller.tenantId, CONVERSATION_TOPIC, 'session.started', {
        sessionId: session.id,
        personaId: persona.id,
        userId: caller.subject,
        model: persona.model,
      });
      return session;
    });
  }

  async sessions(
    claims: VerifiedClaims | null,
    args: { first?: number | null; after?: string | null; status?: 'OPEN' | 'CLOSED' | null },
  ): Promise<Connection<SessionRow>> {
    const caller = requireCaller(claims, 'sessions:read');
    const { first, after } = pageArgs(args);
    return this.db.withScope({ tenantId: caller.tenantId }, async (tx) => {
      const { rows } = await tx.query<SessionRow>(
        `SELECT ${SESSION_COLUMNS} FROM sessions.sessions
          WHERE ($1::timestamptz IS NULL OR (created_at, id) < ($1::timestamptz, $2::uuid))
            AND ($3::text IS NULL OR status = $3)
          ORDER BY created_at DESC, id DESC LIMIT $4`,
        [after?.createdAt ?? null, after?.id ?? null, args.status ?? null, first + 1],
      );
      const total = await tx.query<{ n: string }>(
        'SELECT count(*) AS n FROM sessions.sessions WHERE ($1::text IS NULL OR status = $1)',
        [args.status ?? null],
      );
      return toConnection(rows, first, Number(total.rows[0]!.n), (r) => r);
    });
  }

  /** The session if it is the caller's tenant's; NOT_FOUND otherwise (another tenant's too). */
  async session(
    claims: VerifiedClaims | null,
    id: string,
    capability: 'sessions:read' | 'sessions:write' = 'sessions:read',
  ) {
    const caller = requireCaller(claims, capability);
    return this.db.withScope({ tenantId: caller.tenantId }, (tx) => this.loadSession(tx, caller, id));
  }

  private async loadSession(
    tx: SqlExecutor,
    _caller: Caller,
    id: string,
    forUpdate = false,
  ): Promise<SessionRow> {
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

  async messages(
    claims: VerifiedClaims | null,
    sessionId: string,
    args: { first?: number | null; after?: string | null },
  ): Promise<Connection<MessageRow>> {
    const caller = requireCaller(claims, 'sessions:read');
    const { first, after } = pageArgs(args);
    return this.db.withScope({ tenantId: caller.tenantId }, async (tx) => {
      const { rows } = await tx.query<MessageRow>(
        `SELECT ${MESSAGE_COLUMNS} FROM sessions.messages
          WHERE session_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2::timestamptz, $3::uuid))
          ORDER BY created_at, id LIMIT $4`,
        [sessionId, after?.createdAt ?? null, after?.id ?? null, first + 1],
      );
      const total = await tx.query<{ n: string }>(
        'SELECT count(*) AS n FROM sessions.messages WHERE session_id = $1',
        [sessionId],
      );
      return toConnection(rows, first, Number(total.rows[0]!.n), (r) => r);
    });
  }

  async messageById(claims: VerifiedClaims | null, id: string): Promise<MessageRow | null> {
    const caller = requireCaller(claims, 'sessions:read');
    if (!UUID.test(id)) return null;
    return this.db.withScope({ tenantId: caller.tenantId }, async (tx) => {
      const { rows } = await tx.query<MessageRow>(
        `SELECT ${MESSAGE_COLUMNS} FROM sessions.messages WHERE id = $1`,
        [id],
      );
      return rows[0] ?? null;
    });
  }

  async closeSession(claims: VerifiedClaims | null, id: string): Promise<SessionRow> {
    const caller = requireCaller(claims, 'sessions:write');
    await this.session(claims, id, 'sessions:write');
    const running = this.active.get(id);
    if (running) {
      running.abort.abort();
      await running.done;
    }
    return this.db.withScope({ tenantId: caller.tenantId }, async (tx) => {
      const { rows } = await tx.query<SessionRow>(
        `UPDATE sessions.sessions SET status = 'CLOSED', updated_at = now() WHERE id = $1 RETURNING ${SESSION_COLUMNS}`,
        [id],
      );
      await this.outbox.enqueue(tx, caller.tenantId, CONVERSATION_TOPIC, 'session.closed', { sessionId: id });
      this.modelUseBySession.delete(`${caller.tenantId}:${id}`);
      this.conversations.delete(`${caller.tenantId}:${id}`);
      return rows[0]!;
    });
  }

  // ------------------------------------------------------------------------------------------
  // messages and generation

  async sendMessage(
    claims: VerifiedClaims | null,
    input: { sessionId: string; content: string },
  ): Promise<{ userMessage: MessageRow; assistantMessage: MessageRow; afterSequence: number }> {
    const caller = requireCaller(claims, 'sessions:write');
    const content = input.content;
    if (content.trim().length === 0) throw badInput('content', 'content is empty');
    if (content.length > this.limits.maxMessageChars) {
      throw new SomaError(
        'BAD_USER_INPUT',
        `content is limited to ${this.limits.maxMessageChars} characters`,
        {
          field: 'content',
          limit: this.limits.maxMessageChars,
        },
      );
    }
    // The constitution is asked and memory recalled BEFORE this domain's transaction, side by
    // side: a denial stores nothing and never reaches the model; recall reads through the memory
    // domain's own transactions, and the embedded database serialises transactions (one would
    // wait forever). An unknown or foreign session has no model use here; the transaction
    // reports it (NOT_FOUND / FORBIDDEN).
    const use = await this.modelUse(caller, input.sessionId);
    const [recalled] = await Promise.all([
      use ? this.recall(claims!, use, input.sessionId, content) : null,
      use ? this.authorizeModelUse(claims!, caller, use) : undefined,
    ]);
    // Before `known` is read: from there to the reservation there must be no await.
    const releaseSlots = await this.slots?.take(caller);
    const key = `${caller.tenantId}:${input.sessionId}`;
    const known = use && !this.active.has(input.sessionId) ? this.conversations.get(key) : undefined;
    const answering =
      use && known && this.db.inProcess
        ? this.answerFirst(caller, input.sessionId, content, use, recalled, known)
        : this.bookThenAnswer(caller, claims!, input.sessionId, content, use, recalled, known?.history);
    return releaseSlots ? this.releaseWhenAnswered(input.sessionId, answering, releaseSlots) : answering;
  }

  /**
   * Gives the generation slots back when the answer ends (or at once, should sendMessage fail
   * or the answer already be over).
   */
  private async releaseWhenAnswered<T>(
    sessionId: string,
    answering: Promise<T>,
    release: () => void,
  ): Promise<T> {
    try {
      const answer = await answering;
      const generation = this.active.get(sessionId);
      if (generation) void generation.done.then(release);
      else release();
      return answer;
    } catch (error) {
      release();
      throw error;
    }
  }

  /**
   * sendMessage on an in-process database whose session this process knows: the model is asked
   * at once and its first token goes out BEFORE the two messages are stored.
   *
   * Why: the embedded database runs its statements on this event loop, so a transaction between
   * the model request and its first token holds that token back (bench/sessions: ~2-3 ms of
   * BEGIN/statements/COMMIT plus the mutation's answer, ahead of every first token).
   *
   * Why it is safe here: this process is the database's only client, so what it knows about the
   * session (its model use, that it is open, its recent history, its last event sequence) cannot
   * have changed behind its back; the policy was asked and the session reserved before the model.
   * The booking transaction still checks all of it. Should it fail anyway (the session was closed
   * meanwhile), nothing is stored, the mutation answers the error, and the answer's stream ends
   * with FAILED carrying the same code: a client never keeps tokens of an unstored answer
   * without being told.
   */
  private async answerFirst(
    caller: Caller,
    sessionId: string,
    content: string,
    use: SessionModelUse,
    recalled: { text: string; passages: RecalledPassage[] } | null,
    known: KnownConversation,
  ): Promise<{ userMessage: MessageRow; assistantMessage: MessageRow; afterSequence: number }> {
    // Checked by the caller with no await since: reserve now, so a second send gets CONFLICT.
    const generation = this.reserve(sessionId, randomUUID());
    const messages = promptOf(use.systemPrompt, recalled, known.history, content);
    const modelStartedAt = performance.now();
    const chunks = this.startModel(use, messages, generation.abort.signal);
    let booked!: (outcome: BookingOutcome) => void;
    const booking = new Promise<BookingOutcome>((resolve) => {
      booked = resolve;
    });
    let started!: (sequence?: number) => void;
    const answering = new Promise<number | undefined>((resolve) => {
      started = resolve;
    });
    let afterSequence: number;
    try {
      afterSequence = Math.max(await this.streams.lastSequence(sessionStream(sessionId)), known.lastSequence);
    } catch (error) {
      generation.abort.abort();
      generation.release();
      throw error;
    }
    // Which of this session's events its subscribers have taken (see follow()).
    let handedOverUpTo = 0;
    let wake: (() => void) | undefined;
    const handedOver = (sequence: number) => {
      handedOverUpTo = Math.max(handedOverUpTo, sequence);
      wake?.();
    };
    this.handOverListeners(sessionId).add(handedOver);
    void this.generate(
      caller,
      {
        sessionId,
        messageId: generation.messageId,
        provider: use.provider,
        model: use.model,
        chunks,
        modelStartedAt,
        recent: known.history,
        question: content,
        floor: known.lastSequence,
        booking,
        onAnswering: started,
      },
      generation,
    ).catch((error) => {
      console.error('[sessions] generation bookkeeping failed', error);
      generation.release();
    });
    // The booking waits for the first token (bounded: a slow model must not hold the question
    // unstored), then until a subscriber has taken it (over graphql-ws: written to its socket),
    // so the transaction does not take the event loop while the token is still on its way.
    let timer: NodeJS.Timeout | undefined;
    const first = await Promise.race([
      answering,
      new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), BOOKING_WAIT_MS))),
    ]);
    clearTimeout(timer);
    if (first !== undefined && this.watchers.has(sessionId) && handedOverUpTo < first) {
      await new Promise<void>((resolve) => {
        const timeout = setTimeout(resolve, HANDOVER_WAIT_MS);
        wake = () => {
          if (handedOverUpTo < first) return;
          clearTimeout(timeout);
          resolve();
        };
      });
    }
    const listeners = this.handOverListeners(sessionId);
    listeners.delete(handedOver);
    if (listeners.size === 0) this.handOver.delete(sessionId);
    try {
      const stored = await this.db.withScope({ tenantId: caller.tenantId }, async (tx) => {
        const session = await this.loadSession(tx, caller, sessionId, true);
        if (session.status === 'CLOSED')
          throw new SomaError('CONFLICT', 'the session is closed; start a new one');
        const { history } = await this.personaAndHistory(tx, session);
        if (!samePrompt(promptOf(use.systemPrompt, recalled, history, content), messages)) {
          // Only a writer other than this process could cause it; answered as a retriable conflict.
          throw new SomaError(
            'CONFLICT',
            "the session's history changed while the answer started; send the message again",
            { retriable: true },
          );
        }
        return this.storeMessages(tx, caller, session.id, content, recalled, generation.messageId);
      });
      booked({ stored: true });
      return { ...stored, afterSequence };
    } catch (error) {
      booked({ stored: false, error });
      generation.abort.abort();
      throw error;
    }
  }

  /**
   * sendMessage when the session is not known here or the database is a server: the messages
   * are stored first, and the answer's events follow the commit. The model is still asked early
   * when the prompt can be guessed (its time to first token overlaps the transaction).
   */
  private async bookThenAnswer(
    caller: Caller,
    claims: VerifiedClaims,
    sessionId: string,
    content: string,
    use: SessionModelUse | null,
    recalled: { text: string; passages: RecalledPassage[] } | null,
    cachedHistory: ChatMessage[] | undefined,
  ): Promise<{ userMessage: MessageRow; assistantMessage: MessageRow; afterSequence: number }> {
    const abort = new AbortController();
    // Time to first token: with the session's history known here (it usually is), the model is
    // asked NOW, before the transaction. The transaction then checks the guess against the
    // stored history and, should they differ, cancels this request and asks again.
    let early:
      | {
          messages: ChatMessage[];
          chunks: AsyncIterable<ChatChunk>;
          startedAt: number;
          abort: AbortController;
        }
      | undefined;
    if (use && cachedHistory) {
      const earlyAbort = new AbortController();
      abort.signal.addEventListener('abort', () => earlyAbort.abort(), { once: true });
      const messages = promptOf(use.systemPrompt, recalled, cachedHistory, content);
      // Only on a database server (an in-process one answers first instead): its statements are
      // I/O, so the request leaves while the transaction runs.
      early = {
        messages,
        startedAt: performance.now(),
        chunks: this.startModel(use, messages, earlyAbort.signal),
        abort: earlyAbort,
      };
    }
    let generation: ReservedGeneration | undefined;
    try {
      const prepared = await this.db.withScope({ tenantId: caller.tenantId }, async (tx) => {
        // Ownership first: whether another tenant's session is busy is none of the caller's business.
        const session = await this.loadSession(tx, caller, sessionId, true);
        // Check and reserve with no await in between, so two concurrent sends cannot both start.
        if (this.active.has(sessionId)) {
          throw new SomaError('CONFLICT', 'the session is still answering; cancel it or wait for COMPLETED');
        }
        generation = this.reserve(sessionId, '', abort);
        if (session.status === 'CLOSED')
          throw new SomaError('CONFLICT', 'the session is closed; start a new one');
        const { history, ...persona } = await this.personaAndHistory(tx, session);
        // Fail-closed: a model call the constitution was not asked about is never made.
        if (use?.personaId !== persona.id) {
          await this.authorizeModelUse(claims, caller, toModelUse(persona));
        }
        const messages = promptOf(persona.system_prompt, recalled, history, content);
        // The model was asked before the transaction if the prompt could be guessed; otherwise
        // it is asked NOW, while the rest of this transaction runs. Either way its time to
        // first token overlaps the writes. Nothing is emitted before the commit (chunks wait in
        // the prefetched iterator), and a failed transaction aborts the request.
        let modelStartedAt: number;
        let chunks: AsyncIterable<ChatChunk>;
        if (early && persona.id === use?.personaId && samePrompt(early.messages, messages)) {
          ({ chunks, startedAt: modelStartedAt } = early);
        } else {
          early?.abort.abort();
          modelStartedAt = performance.now();
          chunks = this.startModel(toModelUse(persona), messages, abort.signal);
        }
        const stored = await this.storeMessages(tx, caller, session.id, content, recalled);
        return { session, persona, ...stored, chunks, modelStartedAt, recent: history };
      });
      // The relay is not kicked here: on the embedded database its drain is a transaction that
      // would run exactly while the first token travels (measured: +14 ms p50 on the router
      // hop). The rows are committed; the relay's poll (outboxPollMs) or the kick at the end of
      // the answer publishes them.
      generation!.messageId = prepared.assistantMessage.id;
      const floor = Number(prepared.session.last_sequence);
      const afterSequence = Math.max(await this.streams.lastSequence(sessionStream(sessionId)), floor);
      void this.generate(
        caller,
        {
          sessionId,
          messageId: prepared.assistantMessage.id,
          provider: prepared.persona.provider,
          model: prepared.persona.model,
          chunks: prepared.chunks,
          modelStartedAt: prepared.modelStartedAt,
          recent: prepared.recent,
          question: content,
          floor,
          booking: Promise.resolve({ stored: true }),
        },
        generation!,
      ).catch((error) => {
        console.error('[sessions] generation bookkeeping failed', error);
        generation!.release();
      });
      return {
        userMessage: prepared.userMessage,
        assistantMessage: prepared.assistantMessage,
        afterSequence,
      };
    } catch (error) {
      abort.abort();
      generation?.release();
      throw error;
    }
  }

  /**
   * Marks the session as answering (cancel, close and disconnects find the answer here). The
   * caller checked `active` with no await since. `release` frees the session exactly once.
   */
  private reserve(sessionId: string, messageId: string, abort = new AbortController()): ReservedGeneration {
    let finish!: () => void;
    const done = new Promise<void>((r) => {
      finish = r;
    });
    let released = false;
    const generation: ReservedGeneration = {
      abort,
      messageId,
      done,
      release: () => {
        if (released) return;
        released = true;
        if (this.active.get(sessionId) === generation) this.active.delete(sessionId);
        clearTimeout(this.cancelTimers.get(sessionId));
        this.cancelTimers.delete(sessionId);
        finish();
      },
    };
    this.active.set(sessionId, generation);
    return generation;
  }

  /** The session's persona and its recent COMPLETE messages (oldest first), in one statement. */
  private async personaAndHistory(
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
        [session.persona_id, session.id, this.limits.historyMessages],
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
  private async storeMessages(
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

  /** What the session's model calls use, or null when the session is not the caller's tenant's. */
  private async modelUse(caller: Caller, sessionId: string): Promise<SessionModelUse | null> {
    if (!UUID.test(sessionId)) return null;
    const key = `${caller.tenantId}:${sessionId}`;
    const cached = this.modelUseBySession.get(key);
    if (cached) return cached;
    const { rows } = await this.db.withScope({ tenantId: caller.tenantId }, (tx) =>
      tx.query<ModelUseColumns>(
        `SELECT p.id, p.provider, p.model, p.max_tokens, p.recall_k, p.system_prompt, p.temperature FROM sessions.sessions s
           JOIN sessions.personas p ON p.id = s.persona_id WHERE s.id = $1`,
        [sessionId],
      ),
    );
    if (!rows[0]) return null;
    const use = toModelUse(rows[0]);
    this.modelUseBySession.set(key, use);
    return use;
  }

  /**
   * Asks the tenant's constitution (`constitution.model`) whether this model call may be made:
   * the same Rego that gates personas at creation, asked again per call because a constitution
   * can change after a persona was created. Denied → FORBIDDEN with the policy's reasons; engine
   * unavailable → UNAVAILABLE (fail-closed). The decider audits every decision.
   */
  private async authorizeModelUse(
    claims: VerifiedClaims,
    caller: Caller,
    use: SessionModelUse,
  ): Promise<void> {
    const decision = await this.policy.forRequest().decide({
      policy: MODEL_POLICY,
      subject: policySubject(claims),
      model: { name: use.model, maxTokens: use.maxTokens },
      field: { parentType: 'Mutation', name: 'sendMessage', path: 'sendMessage' },
      resource: { tenantId: caller.tenantId, type: 'Persona' },
    });
    if (decision.allow) return;
    const details = { reason: 'POLICY_DENIED', policy: MODEL_POLICY, reasons: decision.reasons };
    if (decision.unavailable) {
      throw new SomaError(
        'UNAVAILABLE',
        `${decision.reasons[0] ?? 'policy engine unavailable'} (fail-closed): the model was not called and nothing was stored; retry shortly`,
        { ...details, reason: 'POLICY_ENGINE_UNAVAILABLE', retriable: true },
      );
    }
    throw new SomaError(
      'FORBIDDEN',
      `denied by policy "${MODEL_POLICY}": ${decision.reasons.join('; ') || 'denied by policy'}; nothing was stored — use a persona whose model and maxTokens the tenant's constitution allows`,
      details,
    );
  }

  /**
   * The persona's recall for this message, or null when it recalls nothing. A caller without
   * `memory:read` gets an answer without memory: a persona must not read memory its user cannot.
   */
  private async recall(
    claims: VerifiedClaims,
    use: SessionModelUse,
    sessionId: string,
    question: string,
  ): Promise<{ text: string; passages: RecalledPassage[] } | null> {
    if (!this.retriever || use.recallK === 0) return null;
    try {
      return await this.retriever.retrieve(claims, question, use.recallK, { sessionId });
    } catch (error) {
      if (error instanceof SomaError && (error.code === 'FORBIDDEN' || error.code === 'UNAUTHENTICATED'))
        return null;
      throw error;
    }
  }

  /**
   * Starts the provider's stream at once (the first `next()` sends the request) and hands back
   * an iterable that yields from the start; errors surface when it is consumed.
   */
  private startModel(
    persona: SessionModelUse,
    messages: ChatMessage[],
    signal: AbortSignal,
  ): AsyncIterable<ChatChunk> {
    const model = this.models[persona.provider];
    if (!model) {
      return (async function* () {
        yield* [];
        throw new ChatModelError(`provider ${persona.provider} is not configured`, false);
      })();
    }
    const iterator = model
      .stream({
        model: persona.model,
        messages,
        temperature: persona.temperature,
        maxTokens: persona.maxTokens,
        signal,
      })
      [Symbol.asyncIterator]();
    const first = iterator.next();
    first.catch(() => undefined); // observed when consumed
    let handedOut = false;
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => {
          if (handedOut) return iterator.next();
          handedOut = true;
          return first;
        },
        return: async (value?: unknown) => {
          await iterator.return?.(value);
          return { done: true as const, value: undefined };
        },
      }),
    };
  }

  async cancelGeneration(claims: VerifiedClaims | null, sessionId: string): Promise<MessageRow | null> {
    await this.session(claims, sessionId, 'sessions:write');
    const running = this.active.get(sessionId);
    if (!running) return null;
    running.abort.abort();
    await running.done;
    return this.messageById(claims, running.messageId);
  }

  /** Live sessionEvents subscriptions of a session (tests assert disconnects release them). */
  watcherCount(sessionId: string): number {
    return this.watchers.get(sessionId) ?? 0;
  }

  /** Model streams open right now: drops as soon as a cancelled generation stops consuming tokens. */
  openModelStreams(): number {
    return this.streaming.size;
  }

  /** Number of answers being generated right now (tests assert nothing is left running). */
  activeGenerations(): number {
    return this.active.size;
  }

  private async generate(caller: Caller, answer: Answer, generation: ReservedGeneration): Promise<void> {
    const { sessionId, messageId, floor } = answer;
    const signal = generation.abort.signal;
    const stream = sessionStream(sessionId);
    let lastSequence = floor;
    const emit = async (payload: SessionEventPayload) => {
      lastSequence = (await this.streams.append(stream, payload, { floor })).sequence;
    };
    const now = () => new Date().toISOString();
    const started = answer.modelStartedAt;
    let ttftMs: number | null = null;
    let text = '';
    let deltas = 0;
    // The engine's running counts (deltas carry them where it reports them) and its final usage.
    let running: TokenUsage | undefined;
    let usage: (TokenUsage & { source: UsageSource }) | undefined;
    let finishReason = 'stop';
    let status: MessageRow['status'] = 'COMPLETE';
    let failure: { code: string; message: string; retriable: boolean } | undefined;

    const timeout = setTimeout(
      () => generation.abort.abort(new GenerationTimeout(this.limits.generationTimeoutMs)),
      this.limits.generationTimeoutMs,
    );
    timeout.unref();
    let checkpointed = 0;
    let checkpoints: GenerationCheckpoints | undefined;
    const startCheckpointing = () =>
      startCheckpoints(this.db, caller.tenantId, messageId, this.limits.checkpointMs, () => {
        if (deltas === checkpointed) return undefined;
        checkpointed = deltas;
        return { content: text, ...(running ?? { promptTokens: 0, completionTokens: deltas }) };
      });
    this.streaming.add(sessionId);
    try {
      for await (const chunk of answer.chunks) {
        if (chunk.type === 'delta') {
          text += chunk.text;
          deltas++;
          if (chunk.usage) running = chunk.usage;
          // Cancelled: the adapter ends its stream (with its usage) at once; a delta it had
          // already delivered is stored and counted, but no longer sent.
          if (signal.aborted) continue;
          ttftMs ??= Math.round(performance.now() - started);
          await emit({ type: 'TOKEN', messageId, delta: chunk.text, occurredAt: now() });
          answer.onAnswering?.(lastSequence);
          // Once the first token is on its way, not before it.
          checkpoints ??= startCheckpointing();
        } else if (chunk.type === 'usage') {
          usage = {
            promptTokens: chunk.promptTokens,
            completionTokens: chunk.completionTokens,
            source: chunk.source ?? 'engine',
          };
        } else {
          finishReason = chunk.reason;
        }
      }
      if (finishReason === 'cancelled' || signal.aborted) {
        status = 'CANCELLED';
        finishReason = 'cancelled';
      }
    } catch (error) {
      status = signal.aborted ? 'CANCELLED' : 'FAILED';
      finishReason = signal.aborted ? 'cancelled' : 'error';
      if (!signal.aborted) {
        const retriable = error instanceof ChatModelError ? error.retriable : false;
        failure = {
          code: retriable ? 'UNAVAILABLE' : 'INTERNAL_SERVER_ERROR',
          message: error instanceof ChatModelError ? error.message : 'the answer could not be generated',
          retriable,
        };
        if (!(error instanceof ChatModelError)) console.error('[sessions] generation failed', error);
      }
    } finally {
      clearTimeout(timeout);
      this.streaming.delete(sessionId);
      answer.onAnswering?.();
    }
    if (signal.reason instanceof GenerationTimeout) {
      status = 'FAILED';
      finishReason = 'timeout';
      failure = { code: 'UNAVAILABLE', message: signal.reason.message, retriable: true };
    }
    await checkpoints?.stop();
    // What the answer used, however it ended: the engine's usage; else its running counts; else
    // (an adapter that reported neither) the deltas received.
    const used: TokenUsage & { source: UsageSource } =
      usage ??
      (running
        ? { ...running, source: 'engine' }
        : { promptTokens: 0, completionTokens: deltas, source: 'estimate' });

    // Answered first (answerFirst): the messages may still be being stored.
    const booking = await answer.booking;
    const key = `${caller.tenantId}:${sessionId}`;
    if (!booking.stored) {
      // Nothing was stored; the stream says so with the booking's own error, and the session's
      // sequence floor moves above the events already sent (a restarted log continues above).
      // The tokens the engine produced are still metered: on the session's totals and on
      // slm.requests (status FAILED, finishReason not_stored; there is no message row).
      const error = booking.error;
      const coded = error instanceof SomaError ? error : undefined;
      if (!coded) console.error('[sessions] storing the messages failed', error);
      const finalSequence = lastSequence + 1;
      this.conversations.delete(key);
      const cost = answerCost(this.prices, answer.model, used.promptTokens, used.completionTokens);
      await this.db
        .withScope({ tenantId: caller.tenantId }, async (tx) => {
          await tx.query(
            `UPDATE sessions.sessions SET last_sequence = GREATEST(last_sequence, $2), prompt_tokens = prompt_tokens + $3,
                    completion_tokens = completion_tokens + $4, cost_usd = cost_usd + $5 WHERE id = $1`,
            [sessionId, finalSequence, used.promptTokens, used.completionTokens, cost],
          );
          await this.outbox.enqueue(tx, caller.tenantId, SLM_REQUESTS_TOPIC, 'slm.request', {
            sessionId,
            messageId,
            userId: caller.subject,
            provider: answer.provider,
            model: answer.model,
            promptTokens: used.promptTokens,
            completionTokens: used.completionTokens,
            usageSource: used.source,
            costUsd: cost,
            latencyMs: Math.round(performance.now() - started),
            timeToFirstTokenMs: ttftMs,
            status: 'FAILED',
            finishReason: 'not_stored',
          });
        })
        .catch((e) => console.error('[sessions] could not record the sequence of an unstored answer', e));
      generation.release();
      await emit({
        type: 'FAILED',
        messageId,
        code: coded?.code ?? 'INTERNAL_SERVER_ERROR',
        message: `the message was not stored: ${coded?.message ?? 'internal error'}`,
        retriable: coded?.extensions?.retriable === true,
        occurredAt: now(),
      });
      return;
    }

    // Every ending is metered and published the same way (recordAnswer), cancelled ones too.
    const cost = answerCost(this.prices, answer.model, used.promptTokens, used.completionTokens);
    await emit({
      type: 'USAGE',
      messageId,
      promptTokens: used.promptTokens,
      completionTokens: used.completionTokens,
      costUsd: cost,
      occurredAt: now(),
    });
    const latencyMs = Math.round(performance.now() - started);
    // The final event's sequence is reserved in the row written before it is emitted, so a
    // client that sees COMPLETED can read the stored totals, and a restarted log continues above.
    const finalSequence = lastSequence + 1;
    await this.db.withScope({ tenantId: caller.tenantId }, (tx) =>
      recordAnswer(
        tx,
        this.outbox,
        {
          tenantId: caller.tenantId,
          sessionId,
          messageId,
          userId: caller.subject,
          provider: answer.provider,
          model: answer.model,
          content: text,
          status,
          finishReason,
          promptTokens: used.promptTokens,
          completionTokens: used.completionTokens,
          usageSource: used.source,
          latencyMs,
          ttftMs,
          finalSequence,
        },
        cost,
      ),
    );
    this.outbox.kick();
    setBounded(this.conversations, key, {
      history: [
        ...answer.recent,
        { role: 'user' as const, content: answer.question },
        ...(status === 'COMPLETE' ? [{ role: 'assistant' as const, content: text }] : []),
      ].slice(-this.limits.historyMessages),
      lastSequence: finalSequence,
    });
    // The session is released BEFORE the terminal event goes out: a client that sees
    // COMPLETED may send its next message at once.
    generation.release();
    const occurredAt = now();
    if (status === 'COMPLETE') await emit({ type: 'COMPLETED', messageId, finishReason, occurredAt });
    else if (status === 'CANCELLED') await emit({ type: 'CANCELLED', messageId, occurredAt });
    else await emit({ type: 'FAILED', messageId, ...failure!, occurredAt });
  }

  // ------------------------------------------------------------------------------------------
  // live events

  /**
   * The session's events after `afterSequence`, then live. While a generation runs, losing its
   * last watcher cancels it after the grace period (a client that reconnects in time keeps it).
   */
  async events(
    claims: VerifiedClaims | null,
    sessionId: string,
    afterSequence: number,
  ): Promise<AsyncGenerator<{ sequence: number; sessionId: string } & SessionEventPayload>> {
    // Checked before the stream is handed out, so a refusal is the subscription's own error
    // (FORBIDDEN, NOT_FOUND) rather than a broken stream.
    await this.session(claims, sessionId, 'sessions:read');
    if (!Number.isInteger(afterSequence) || afterSequence < 0) {
      throw badInput('afterSequence', 'afterSequence must be a non-negative integer');
    }
    return this.follow(sessionId, afterSequence);
  }

  private async *follow(
    sessionId: string,
    afterSequence: number,
  ): AsyncGenerator<{ sequence: number; sessionId: string } & SessionEventPayload> {
    const abort = new AbortController();
    this.watch(sessionId, +1);
    try {
      for await (const entry of this.streams.subscribe<SessionEventPayload>(
        sessionStream(sessionId),
        afterSequence,
        abort.signal,
      )) {
        yield { sequence: entry.sequence, sessionId, ...entry.payload };
        // The consumer asked for the next event: it has taken this one (graphql-ws writes an
        // event to the socket before it asks for the next).
        for (const listener of this.handOver.get(sessionId) ?? []) listener(entry.sequence);
      }
    } finally {
      abort.abort();
      this.watch(sessionId, -1);
    }
  }

  /** Listeners told which event of a session a subscriber has taken (answerFirst waits on it). */
  private handOverListeners(sessionId: string): Set<(sequence: number) => void> {
    let listeners = this.handOver.get(sessionId);
    if (!listeners) {
      listeners = new Set();
      this.handOver.set(sessionId, listeners);
    }
    return listeners;
  }

  private watch(sessionId: string, delta: 1 | -1) {
    const count = (this.watchers.get(sessionId) ?? 0) + delta;
    if (count <= 0) this.watchers.delete(sessionId);
    else this.watchers.set(sessionId, count);
    clearTimeout(this.cancelTimers.get(sessionId));
    this.cancelTimers.delete(sessionId);
    if (count <= 0 && this.active.has(sessionId)) {
      const timer = setTimeout(() => {
        this.cancelTimers.delete(sessionId);
        if (!this.watchers.has(sessionId)) this.active.get(sessionId)?.abort.abort();
      }, this.limits.disconnectGraceMs);
      timer.unref();
      this.cancelTimers.set(sessionId, timer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const generation of this.active.values()) generation.abort.abort();
    await Promise.all([...this.active.values()].map((g) => g.done));
    for (const timer of this.cancelTimers.values()) clearTimeout(timer);
  }
}

type ModelUseColumns = Pick<
  PersonaRow,
  'id' | 'provider' | 'model' | 'max_tokens' | 'recall_k' | 'system_prompt' | 'temperature'
>;

const toModelUse = (p: ModelUseColumns): SessionModelUse => ({
  personaId: p.id,
  provider: p.provider,
  model: p.model,
  maxTokens: p.max_tokens,
  recallK: p.recall_k,
  systemPrompt: p.system_prompt,
  temperature: p.temperature,
});

/** The prompt of one answer: persona, recalled memory, recent history, the new message. */
const promptOf = (
  systemPrompt: string,
  recalled: { text: string; passages: RecalledPassage[] } | null,
  history: ChatMessage[],
  content: string,
): ChatMessage[] => [
  ...(systemPrompt ? [{ role: 'system' as const, content: systemPrompt }] : []),
  ...(recalled && recalled.passages.length > 0
    ? [
        {
          role: 'system' as const,
          content: `Relevant memory; cite it as [n] when you use it:\n${recalled.text}`,
        },
      ]
    : []),
  ...history,
  { role: 'user', content },
];

const samePrompt = (a: ChatMessage[], b: ChatMessage[]) =>
  a.length === b.length && a.every((m, i) => m.role === b[i]!.role && m.content === b[i]!.content);

const badInput = (field: string, message: string) => new SomaError('BAD_USER_INPUT', message, { field });
