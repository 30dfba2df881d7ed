import { randomUUID } from 'node:crypto';
import { clip, SomaError } from '@somaagent/errors';
import type { OutboxRelay } from '@somaagent/events';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import { type Connection, pageArgs, toConnection } from '@somaagent/pagination';
import type { PolicyDecider } from '@somaagent/policy';
import type { ChatModel, ContextRetriever, SqlDatabase, StreamLog } from '@somaagent/ports';
import { requireCaller } from './capabilities';
import { GenerationRunner } from './GenerationRunner';
import type { GenerationSlots } from './GenerationSlots';
import { Generations } from './Generations';
import type {
  CreatePersonaInput,
  ModelProvider,
  QueryPersonasArgs,
  QuerySessionsArgs,
  SendMessageInput,
  SessionMessagesArgs,
  StartSessionInput,
} from './generated/resolvers-types';
import { allFieldsHandled } from './inputFields';
import { KnownSessions, toModelUse } from './KnownSessions';
import { MessageSender } from './MessageSender';
import { ModelAccess } from './ModelAccess';
import { PersonaService } from './PersonaService';
import type { PriceTable } from './prices';
import { type SentMessage, sendStrategyFor } from './SendStrategy';
import { type SessionEvent, SessionEventFeed } from './SessionEventFeed';
import { type MessageRow, type PersonaRow, type SessionRow, SessionStore, UUID } from './SessionStore';
import type { SessionsLimits } from './SessionsLimits';

export { MODEL_POLICY } from './ModelAccess';
export { CONVERSATION_TOPIC, SLM_REQUESTS_TOPIC } from './recordAnswer';
export { type SessionEventPayload, sessionStream } from './SessionEventFeed';
export type { MessageRow, PersonaRow, SessionRow } from './SessionStore';
export { DEFAULT_SESSIONS_LIMITS, type SessionsLimits } from './SessionsLimits';

export interface SessionServiceDeps {
  db: SqlDatabase;
  streams: StreamLog;
  models: Partial<Record<ModelProvider, ChatModel>>;
  prices: PriceTable;
  outbox: OutboxRelay;
  limits: SessionsLimits;
  /** Asks `constitution.model` before every model call (fail-closed, audited). */
  policy: PolicyDecider;
  /** Memory recall for personas with recallK > 0; without it, personas answer without memory. */
  retriever?: ContextRetriever;
  /** The concurrent-generation quota (per user and per tenant); without it, no quota. */
  slots?: GenerationSlots;
}

/**
 * The sessions domain as the resolvers see it: personas (PersonaService), sessions and their
 * messages (here, on SessionStore), sendMessage (MessageSender with the database's
 * SendStrategy), answers (GenerationRunner) and live events (SessionEventFeed). Every database
 * access runs inside `db.withScope` for the caller's tenant (RLS); events a change produces go
 * to the outbox in the same transaction.
 */
export class SessionService {
  /** This process's generator id: written on the answers it generates (crash repair). */
  readonly instanceId = randomUUID();
  private readonly db: SqlDatabase;
  private readonly store: SessionStore;
  private readonly known = new KnownSessions();
  private readonly generations: Generations;
  private readonly feed: SessionEventFeed;
  private readonly runner: GenerationRunner;
  private readonly personaService: PersonaService;
  private readonly sender: MessageSender;

  constructor(deps: SessionServiceDeps) {
    const { db, limits } = deps;
    this.db = db;
    this.store = new SessionStore(deps.outbox, limits.historyMessages, this.instanceId);
    this.generations = new Generations(limits.disconnectGraceMs);
    this.feed = new SessionEventFeed(deps.streams, this.generations);
    this.runner = new GenerationRunner({ ...deps, store: this.store, feed: this.feed, known: this.known });
    this.personaService = new PersonaService({ ...deps, store: this.store, canRecall: !!deps.retriever });
    const sendDeps = {
      db,
      store: this.store,
      feed: this.feed,
      generations: this.generations,
      runner: this.runner,
      access: new ModelAccess(deps.policy, deps.retriever),
    };
    this.sender = new MessageSender({
      ...sendDeps,
      known: this.known,
      strategy: sendStrategyFor(sendDeps),
      maxMessageChars: limits.maxMessageChars,
      ...(deps.slots ? { slots: deps.slots } : {}),
    });
  }

  // personas

  createPersona(claims: VerifiedClaims | null, input: CreatePersonaInput): Promise<PersonaRow> {
    return this.personaService.create(claims, input);
  }

  personas(claims: VerifiedClaims | null, args: QueryPersonasArgs): Promise<Connection<PersonaRow>> {
    return this.personaService.list(claims, args);
  }

  personaById(claims: VerifiedClaims | null, id: string): Promise<PersonaRow | null> {
    return this.personaService.byId(claims, id);
  }

  // sessions

  async startSession(claims: VerifiedClaims | null, input: StartSessionInput): Promise<SessionRow> {
    const caller = requireCaller(claims, 'sessions:write');
    const { personaId, title, ...unhandled } = input;
    allFieldsHandled(unhandled);
    if (title && title.length > 200)
      throw new SomaError('BAD_USER_INPUT', 'title is limited to 200 characters', { field: 'title' });
    return this.db.withScope({ tenantId: caller.tenantId }, async (tx) => {
      const persona = UUID.test(personaId) ? await this.store.persona(tx, personaId) : undefined;
      if (!persona)
        throw new SomaError('NOT_FOUND', `persona ${clip(personaId)} not found`, { field: 'personaId' });
      const session = await this.store.insertSession(tx, caller, persona, title ?? null);
      // The first sendMessage then needs no lookup of its own (it is on the time-to-first-token path).
      this.known.rememberModelUse(caller.tenantId, session.id, toModelUse(persona));
      this.known.rememberConversation(caller.tenantId, session.id, {
        history: [],
        lastSequence: Number(session.last_sequence),
      });
      return session;
    });
  }

  async sessions(claims: VerifiedClaims | null, args: QuerySessionsArgs): Promise<Connection<SessionRow>> {
    const caller = requireCaller(claims, 'sessions:read');
    const { first: firstArg, after: afterArg, status, ...unhandled } = args;
    allFieldsHandled(unhandled);
    const { first, after } = pageArgs({ first: firstArg, after: afterArg });
    return this.db.withScope({ tenantId: caller.tenantId }, async (tx) => {
      const page = await this.store.sessionPage(tx, after, status ?? null, first + 1);
      return toConnection(page.rows, first, page.total, (r) => r);
    });
  }

  /** The session if it is the caller's tenant's; NOT_FOUND otherwise (another tenant's too). */
  async session(
    claims: VerifiedClaims | null,
    id: string,
    capability: 'sessions:read' | 'sessions:write' = 'sessions:read',
  ): Promise<SessionRow> {
    const caller = requireCaller(claims, capability);
    return this.db.withScope({ tenantId: caller.tenantId }, (tx) => this.store.session(tx, id));
  }

  async messages(
    claims: VerifiedClaims | null,
    sessionId: string,
    args: SessionMessagesArgs,
  ): Promise<Connection<MessageRow>> {
    const caller = requireCaller(claims, 'sessions:read');
    const { first: firstArg, after: afterArg, ...unhandled } = args;
    allFieldsHandled(unhandled);
    const { first, after } = pageArgs({ first: firstArg, after: afterArg });
    return this.db.withScope({ tenantId: caller.tenantId }, async (tx) => {
      const page = await this.store.messagePage(tx, sessionId, after, first + 1);
      return toConnection(page.rows, first, page.total, (r) => r);
    });
  }

  async messageById(claims: VerifiedClaims | null, id: string): Promise<MessageRow | null> {
    const caller = requireCaller(claims, 'sessions:read');
    if (!UUID.test(id)) return null;
    return this.db.withScope(
      { tenantId: caller.tenantId },
      async (tx) => (await this.store.message(tx, id)) ?? null,
    );
  }

  async closeSession(claims: VerifiedClaims | null, id: string): Promise<SessionRow> {
    const caller = requireCaller(claims, 'sessions:write');
    await this.session(claims, id, 'sessions:write');
    const running = this.generations.get(id);
    if (running) {
      running.abort.abort();
      await running.done;
    }
    return this.db.withScope({ tenantId: caller.tenantId }, async (tx) => {
      const closed = await this.store.closeSession(tx, caller.tenantId, id);
      this.known.forget(caller.tenantId, id);
      return closed;
    });
  }

  // messages and answers

  sendMessage(claims: VerifiedClaims | null, input: SendMessageInput): Promise<SentMessage> {
    return this.sender.send(claims, input);
  }

  async cancelGeneration(claims: VerifiedClaims | null, sessionId: string): Promise<MessageRow | null> {
    await this.session(claims, sessionId, 'sessions:write');
    const running = this.generations.get(sessionId);
    if (!running) return null;
    running.abort.abort();
    await running.done;
    return this.messageById(claims, running.messageId);
  }

  /**
   * The session's events after `afterSequence`, then live. While a generation runs, losing its
   * last watcher cancels it after the grace period (a client that reconnects in time keeps it).
   */
  async events(
    claims: VerifiedClaims | null,
    sessionId: string,
    afterSequence: number,
  ): Promise<AsyncGenerator<SessionEvent>> {
    // Checked before the stream is handed out, so a refusal is the subscription's own error
    // (FORBIDDEN, NOT_FOUND) rather than a broken stream.
    await this.session(claims, sessionId, 'sessions:read');
    if (!Number.isInteger(afterSequence) || afterSequence < 0) {
      throw new SomaError('BAD_USER_INPUT', 'afterSequence must be a non-negative integer', {
        field: 'afterSequence',
      });
    }
    return this.feed.follow(sessionId, afterSequence);
  }

  /** Live sessionEvents subscriptions of a session (tests assert disconnects release them). */
  watcherCount(sessionId: string): number {
    return this.feed.watcherCount(sessionId);
  }

  /** Model streams open right now: drops as soon as a cancelled generation stops consuming tokens. */
  openModelStreams(): number {
    return this.runner.openModelStreams();
  }

  /** Number of answers being generated right now (tests assert nothing is left running). */
  activeGenerations(): number {
    return this.generations.size;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.generations[Symbol.asyncDispose]();
  }
}
