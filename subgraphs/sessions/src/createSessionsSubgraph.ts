import { readFileSync } from 'node:fs';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { SomaError } from '@somaagent/errors';
import { InMemoryRateLimiter, OutboxRelay } from '@somaagent/events';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { Connection } from '@somaagent/pagination';
import type { PolicyDecider } from '@somaagent/policy';
import type {
  ChatModel,
  ContextRetriever,
  EventBus,
  RateLimiter,
  SqlDatabase,
  StreamLog,
} from '@somaagent/ports';
import { type GraphQLSchema, parse } from 'graphql';
import { DEFAULT_GENERATION_QUOTA, type GenerationQuota, GenerationSlots } from './GenerationSlots';
import type { ModelProvider, Resolvers } from './generated/resolvers-types';
import {
  toMessage as message,
  toPersona as persona,
  type SessionEventModel,
  toSession as session,
} from './models';
import { DEFAULT_PRICES, type PriceTable } from './prices';
import { startGenerationRecovery } from './recoverInterruptedGenerations';
import { sessionStream } from './SessionEventFeed';
import { SessionService } from './SessionService';
import { DEFAULT_SESSIONS_LIMITS, type SessionsLimits } from './SessionsLimits';

type SessionEventTypename = NonNullable<
  Awaited<ReturnType<NonNullable<Resolvers['SessionEvent']>['__resolveType']>>
>;

export interface SessionsDeps {
  db: SqlDatabase;
  /** Where the outbox relay publishes `conversation.events` and `slm.requests`. */
  events: EventBus;
  /** Sequence-numbered, replayable session event streams. */
  streams: StreamLog;
  /** Model providers by the persona's `provider`. */
  models: Partial<Record<ModelProvider, ChatModel>>;
  /**
   * Asks `constitution.model` before every model call, audited (the platform passes the
   * router's decider: same engine, same audit sink). Required, with no allow-all default: a
   * sessions subgraph that forgot its policy would call models the constitution forbids —
   * issue 5 asks that the same policies gate model use, and fail-closed means no silent bypass.
   */
  policy: PolicyDecider;
  /** @default DEFAULT_PRICES */
  prices?: PriceTable;
  /** Message, history and recovery limits, and the concurrent-generation quota (GenerationQuota). */
  limits?: Partial<SessionsLimits & GenerationQuota>;
  /**
   * Where the concurrent-generation slots are counted: replicas of this subgraph must share one
   * (a RedisRateLimiter on one server) for the quota to hold across them.
   * @default a new InMemoryRateLimiter (this process only)
   */
  rateLimiter?: RateLimiter;
  /** @default 1000 */
  outboxPollMs?: number;
  /** Memory recall for personas with recallK > 0 (the memory domain, wired by the platform). */
  retriever?: ContextRetriever;
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

const connection = <R, N>(c: Connection<R>, map: (r: R) => N): Connection<N> => ({
  ...c,
  edges: c.edges.map((e) => ({ cursor: e.cursor, node: map(e.node) })),
});

const EVENT_TYPENAMES: Record<
  SessionEventModel['type'] | 'TOOL_CALL_REQUESTED' | 'TOOL_CALL_RESULT',
  SessionEventTypename
> = {
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
  const outbox = new OutboxRelay(deps.db, deps.events, {
    schema: 'sessions',
    pollMs: deps.outboxPollMs ?? 1000,
  }).start();
  const limits = { ...DEFAULT_SESSIONS_LIMITS, ...deps.limits };
  const rateLimiter = deps.rateLimiter ?? new InMemoryRateLimiter();
  const prices = deps.prices ?? DEFAULT_PRICES;
  const service = new SessionService({
    db: deps.db,
    streams: deps.streams,
    models: deps.models,
    prices,
    outbox,
    limits,
    policy: deps.policy,
    ...(deps.retriever ? { retriever: deps.retriever } : {}),
    slots: new GenerationSlots(rateLimiter, { ...DEFAULT_GENERATION_QUOTA, ...deps.limits }),
  });
  // Answers a stopped process left STREAMING are ended (FAILED, metered) before this one serves.
  const recovery = await startGenerationRecovery({
    db: deps.db,
    streams: deps.streams,
    outbox,
    prices,
    instanceId: service.instanceId,
    heartbeatMs: limits.heartbeatMs,
    streamOf: sessionStream,
  });

  const resolvers: Resolvers = {
    Query: {
      sessions: async (_, args, ctx) => connection(await service.sessions(ctx.claims, args), session),
      session: async (_, { id }, ctx) => session(await service.session(ctx.claims, id)),
      personas: async (_, args, ctx) => connection(await service.personas(ctx.claims, args), persona),
    },
    Mutation: {
      createPersona: async (_, { input }, ctx) => persona(await service.createPersona(ctx.claims, input)),
      startSession: async (_, { input }, ctx) => session(await service.startSession(ctx.claims, input)),
      sendMessage: async (_, { input }, ctx) => {
        const r = await service.sendMessage(ctx.claims, input);
        return {
          userMessage: message(r.userMessage),
          assistantMessage: message(r.assistantMessage),
          afterSequence: r.afterSequence,
        };
      },
      cancelGeneration: async (_, { sessionId }, ctx) => {
        const r = await service.cancelGeneration(ctx.claims, sessionId);
        return r ? message(r) : null;
      },
      closeSession: async (_, { id }, ctx) => session(await service.closeSession(ctx.claims, id)),
    },
    Subscription: {
      sessionEvents: {
        subscribe: (_, args, ctx) => service.events(ctx.claims, args.sessionId, args.afterSequence ?? 0),
        resolve: (event: SessionEventModel) => event,
      },
    },
    SessionEvent: {
      __resolveType: (event) => EVENT_TYPENAMES[event.type],
    },
    Session: {
      __resolveReference: async (ref, ctx) => {
        try {
          return session(await service.session(ctx.claims, ref.id));
        } catch (error) {
          if (error instanceof SomaError && (error.code === 'NOT_FOUND' || error.code === 'FORBIDDEN'))
            return null;
          throw error;
        }
      },
      persona: async (s, _, ctx) => {
        const p = await service.personaById(ctx.claims, s.personaId);
        if (!p) throw new SomaError('NOT_FOUND', `persona ${s.personaId} not found`);
        return persona(p);
      },
      messages: async (s, args, ctx) => connection(await service.messages(ctx.claims, s.id, args), message),
    },
    Message: {
      __resolveReference: async (ref, ctx) => {
        const m = await service.messageById(ctx.claims, ref.id);
        return m ? message(m) : null;
      },
    },
    Persona: {
      __resolveReference: async (ref, ctx) => {
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
      await recovery.stop();
      await service[Symbol.asyncDispose]();
      await outbox.drain().catch(() => 0);
      await outbox[Symbol.asyncDispose]();
      if (!deps.rateLimiter) await rateLimiter[Symbol.asyncDispose]();
    },
  };
}
