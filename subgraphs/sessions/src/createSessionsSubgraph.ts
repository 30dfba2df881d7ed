import { readFileSync } from 'node:fs';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { ChatModel, EventBus, SqlDatabase, StreamLog } from '@somaagent/ports';
import { type GraphQLSchema, parse } from 'graphql';
import { OutboxRelay } from './OutboxRelay';
import { DEFAULT_PRICES, type PriceTable } from './prices';
import {
  DEFAULT_SESSIONS_LIMITS,
  type MessageRow,
  type PersonaRow,
  type SessionRow,
  SessionService,
  type SessionsLimits,
} from './SessionService';

export interface SessionsDeps {
  db: SqlDatabase;
  /** Where the outbox relay publishes `conversation.events` and `slm.requests`. */
  events: EventBus;
  /** Sequence-numbered, replayable session event streams. */
  streams: StreamLog;
  /** Model providers by the persona's `provider`. */
  models: Partial<Record<'OPENAI_COMPATIBLE', ChatModel>>;
  /** @default DEFAULT_PRICES */
  prices?: PriceTable;
  limits?: Partial<SessionsLimits>;
  /** @default 1000 */
  outboxPollMs?: number;
}

export interface SessionsContext {
  claims: VerifiedClaims | null;
}

export interface SessionsSubgraph extends AsyncDisposable {
  name: 'sessions';
  schema: GraphQLSchema;
  createContext: (claims: VerifiedClaims | null) => SessionsContext;
  service: SessionService;
  outbox: OutboxRelay;
}

export const sessionsTypeDefs = parse(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));

const iso = (d: Date) => new Date(d).toISOString();

const persona = (r: PersonaRow) => ({
  id: r.id,
  name: r.name,
  provider: r.provider,
  model: r.model,
  systemPrompt: r.system_prompt,
  temperature: r.temperature,
  maxTokens: r.max_tokens,
  createdAt: iso(r.created_at),
});

const session = (r: SessionRow) => {
  const promptTokens = Number(r.prompt_tokens);
  const completionTokens = Number(r.completion_tokens);
  return {
    id: r.id,
    userId: r.user_id,
    personaId: r.persona_id,
    model: r.model,
    title: r.title,
    status: r.status,
    usage: {
      promptTokens,
      completionTokens,
      totalTokens: promptTokens + completionTokens,
      costUsd: Number(r.cost_usd),
    },
    lastSequence: Number(r.last_sequence),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
};

const message = (r: MessageRow) => ({
  id: r.id,
  sessionId: r.session_id,
  role: r.role,
  content: r.content,
  status: r.status,
  promptTokens: r.prompt_tokens,
  completionTokens: r.completion_tokens,
  costUsd: Number(r.cost_usd),
  latencyMs: r.latency_ms,
  timeToFirstTokenMs: r.ttft_ms,
  finishReason: r.finish_reason,
  createdAt: iso(r.created_at),
});

const connection = <R, N>(
  c: { edges: { cursor: string; node: R }[]; pageInfo: unknown; totalCount: number },
  map: (r: R) => N,
) => ({
  ...c,
  edges: c.edges.map((e) => ({ cursor: e.cursor, node: map(e.node) })),
});

const EVENT_TYPENAMES: Record<string, string> = {
  TOKEN: 'TokenDelta',
  TOOL_CALL_REQUESTED: 'ToolCallRequested',
  TOOL_CALL_RESULT: 'ToolCallResult',
  USAGE: 'UsageReported',
  COMPLETED: 'GenerationCompleted',
  FAILED: 'GenerationFailed',
  CANCELLED: 'GenerationCancelled',
};

/** The sessions subgraph: build it, then serve it with `serveSubgraph` (or `main.ts`). */
export async function createSessionsSubgraph(deps: SessionsDeps): Promise<SessionsSubgraph> {
  const outbox = new OutboxRelay(deps.db, deps.events, { pollMs: deps.outboxPollMs ?? 1000 }).start();
  const service = new SessionService(
    deps.db,
    deps.streams,
    deps.models,
    deps.prices ?? DEFAULT_PRICES,
    outbox,
    { ...DEFAULT_SESSIONS_LIMITS, ...deps.limits },
  );

  type Ctx = SessionsContext;
  const resolvers = {
    Query: {
      sessions: async (
        _: unknown,
        args: { first?: number; after?: string; status?: 'OPEN' | 'CLOSED' },
        ctx: Ctx,
      ) => connection(await service.sessions(ctx.claims, args), session),
      session: async (_: unknown, { id }: { id: string }, ctx: Ctx) =>
        session(await service.session(ctx.claims, id)),
      personas: async (_: unknown, args: { first?: number; after?: string }, ctx: Ctx) =>
        connection(await service.personas(ctx.claims, args), persona),
    },
    Mutation: {
      createPersona: async (
        _: unknown,
        { input }: { input: Parameters<SessionService['createPersona']>[1] },
        ctx: Ctx,
      ) => persona(await service.createPersona(ctx.claims, input)),
      startSession: async (
        _: unknown,
        { input }: { input: { personaId: string; title?: string } },
        ctx: Ctx,
      ) => session(await service.startSession(ctx.claims, input)),
      sendMessage: async (
        _: unknown,
        { input }: { input: { sessionId: string; content: string } },
        ctx: Ctx,
      ) => {
        const r = await service.sendMessage(ctx.claims, input);
        return {
          userMessage: message(r.userMessage),
          assistantMessage: message(r.assistantMessage),
          afterSequence: r.afterSequence,
        };
      },
      cancelGeneration: async (_: unknown, { sessionId }: { sessionId: string }, ctx: Ctx) => {
        const r = await service.cancelGeneration(ctx.claims, sessionId);
        return r ? message(r) : null;
      },
      closeSession: async (_: unknown, { id }: { id: string }, ctx: Ctx) =>
        session(await service.closeSession(ctx.claims, id)),
    },
    Subscription: {
      sessionEvents: {
        subscribe: (_: unknown, args: { sessionId: string; afterSequence?: number | null }, ctx: Ctx) =>
          service.events(ctx.claims, args.sessionId, args.afterSequence ?? 0),
        resolve: (event: unknown) => event,
      },
    },
    SessionEvent: {
      __resolveType: (event: { type: string }) => EVENT_TYPENAMES[event.type] ?? null,
    },
    Session: {
      __resolveReference: async (ref: { id: string }, ctx: Ctx) => {
        try {
          return session(await service.session(ctx.claims, ref.id));
        } catch (error) {
          if (error instanceof SomaError && (error.code === 'NOT_FOUND' || error.code === 'FORBIDDEN'))
            return null;
          throw error;
        }
      },
      persona: async (s: { personaId: string }, _: unknown, ctx: Ctx) => {
        const p = await service.personaById(ctx.claims, s.personaId);
        if (!p) throw new SomaError('NOT_FOUND', `persona ${s.personaId} not found`);
        return persona(p);
      },
      messages: async (s: { id: string }, args: { first?: number; after?: string }, ctx: Ctx) =>
        connection(await service.messages(ctx.claims, s.id, args), message),
    },
    Message: {
      __resolveReference: async (ref: { id: string }, ctx: Ctx) => {
        const m = await service.messageById(ctx.claims, ref.id);
        return m ? message(m) : null;
      },
    },
    Persona: {
      __resolveReference: async (ref: { id: string }, ctx: Ctx) => {
        const p = await service.personaById(ctx.claims, ref.id);
        return p ? persona(p) : null;
      },
    },
  };

  const schema = buildSubgraphSchema([{ typeDefs: sessionsTypeDefs, resolvers: resolvers as never }]);
  return {
    name: 'sessions',
    schema,
    createContext: (claims) => ({ claims }),
    service,
    outbox,
    async [Symbol.asyncDispose]() {
      await service[Symbol.asyncDispose]();
      await outbox.drain().catch(() => 0);
      await outbox[Symbol.asyncDispose]();
    },
  };
}
