import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CAPSULES_CAPABILITIES, capsulesMigrations, createCapsulesSubgraph } from '@somaagent/capsules';
import { type EmbeddingModel, UniversalSentenceEncoderWorkerEmbeddingModel } from '@somaagent/embeddings';
import { InMemoryStreamLog, InProcessEventBus } from '@somaagent/events';
import {
  claimsFromAccessTokenPayload,
  createIdentitySubgraph,
  IDENTITY_CAPABILITIES,
  identityMigrations,
} from '@somaagent/identity';
import {
  createMemorySubgraph,
  MEMORY_CAPABILITIES,
  type MemoryDeps,
  memoryMigrations,
} from '@somaagent/memory';
import { createPolicyDecider, createWasmPolicyEvaluator, type PolicyEvaluator } from '@somaagent/policy';
import { createPolicySubgraph, POLICY_CAPABILITIES } from '@somaagent/policy-subgraph';
import type {
  ChatModel,
  ContextRetriever,
  EventBus,
  ObjectStorage,
  SqlDatabase,
  StreamLog,
  WorkflowEngine,
} from '@somaagent/ports';
import { createRouter, type RouterLimits, type TrustedIssuer } from '@somaagent/router';
import {
  createSessionsSubgraph,
  type ModelProvider,
  type PriceTable,
  SESSIONS_CAPABILITIES,
  type SessionsDeps,
  sessionsMigrations,
} from '@somaagent/sessions';
import {
  createInProcessExecutor,
  type InProcessSubgraphOptions,
  serveSubgraph,
} from '@somaagent/subgraph-server';
import { capsuleRunWorkflow, createActivities } from '@somaagent/workers';
import { FileSystemObjectStorage, JournalWorkflowEngine, workflowsMigrations } from '@somaagent/workflows';

export interface PlatformOptions {
  /** Relational store (PGlite in embedded mode, a PostgreSQL server in distributed mode). */
  db: SqlDatabase;
  /** @default a new InProcessEventBus */
  events?: EventBus;
  /** @default '127.0.0.1' */ host?: string;
  /** @default 0 */ port?: number;
  /** `iss` of the tokens SomaAgent issues. */
  issuer: string;
  /** @default 'somaagent' */ audience?: string;
  /** HMAC secret between router and subgraphs. In one process a fresh random one is right. */
  routerSecret: string;
  /** Bootstrap key that exchanges for a platform-administrator token. */
  platformAdminKey: string;
  /** Seals the token-signing private keys at rest (≥ 32 characters). */
  signingKeySecret?: string;
  /** @default 900 */ accessTokenTtlSeconds?: number;
  /** @default true */ introspection?: boolean;
  /** @default [] */ allowedOrigins?: string[];
  /** External OIDC issuers trusted next to SomaAgent's own. @default [] */
  externalIssuers?: TrustedIssuer[];
  limits?: Partial<RouterLimits>;
  /** Model providers for personas. @default {} (personas cannot be created until one is configured) */
  models?: Partial<Record<ModelProvider, ChatModel>>;
  /** @default the sessions subgraph's DEFAULT_PRICES */
  prices?: PriceTable;
  /** @default a new InMemoryStreamLog */
  streams?: StreamLog;
  sessionsLimits?: SessionsDeps['limits'];
  /**
   * The memory domain's embedding model (recorded with every collection it creates).
   * @default a UniversalSentenceEncoderWorkerEmbeddingModel (real weights, one worker thread)
   */
  embedder?: EmbeddingModel;
  memoryLimits?: MemoryDeps['limits'];
  /** @default schema/supergraph.graphql of this repository */
  supergraphSdl?: string;
  /**
   * Who decides the supergraph's `@policy` / `@requiresCapability` (docs/policy.md):
   * `'embedded'` evaluates the committed Rego compiled to wasm in this process; distributed
   * mode passes an `OpaServerPolicyEvaluator`. Decisions are audited on `events`
   * (topic `agent.audit`). @default 'embedded'
   */
  policy?: PolicyEvaluator | 'embedded';
  /** Development only, announced loudly: allow when the policy engine cannot decide. @default false */
  policyFailOpen?: boolean;
  /**
   * Where capsule runs execute (docs/capsules.md). `'embedded'`: the JournalWorkflowEngine on
   * `db`, its worker in this process. Distributed: a TemporalWorkflowEngine; its workers run
   * workers/src/worker.ts. @default 'embedded'
   */
  workflowEngine?: WorkflowEngine | 'embedded';
  /** Capsule artifacts. @default a FileSystemObjectStorage in `artifactsDir` */
  objectStorage?: ObjectStorage;
  /** @default '.data/artifacts' under the working directory */
  artifactsDir?: string;
  /**
   * How the router reaches the subgraphs, which all run in this process. `'in-process'`: straight
   * to each subgraph's executor with the claims the router verified (no HTTP or graphql-ws hop
   * on the one event loop). `'http'`: signed HTTP requests and graphql-ws subscriptions to the
   * subgraphs' loopback servers, as a distributed deployment does. The servers listen either
   * way (`subgraphUrls`). @default 'in-process'
   */
  subgraphTransport?: 'in-process' | 'http';
  /** The model of capsule model-call steps (embedded engine). @default none: such steps fail, saying so */
  capsuleModel?: { model: ChatModel; defaultModel: string };
}

export interface RunningPlatform extends AsyncDisposable {
  url: string;
  wsUrl: string;
  /** The identity subgraph's internal address (tests prove it refuses unsigned requests). */
  subgraphUrls: Record<string, string>;
  router: Awaited<ReturnType<typeof createRouter>>;
  /** The sessions service (tests read its live-generation count). */
  sessions: import('@somaagent/sessions').SessionService;
  rotateSigningKey(): Promise<{ kid: string }>;
  /** The router's policy engine (tests count its evaluations). */
  policy: PolicyEvaluator;
  /** The capsule-run engine in use. */
  workflowEngine: WorkflowEngine;
  close(): Promise<void>;
}

const defaultSupergraphPath = resolve(import.meta.dirname, '../../../schema/supergraph.graphql');

/**
 * Wires every subgraph and the router into one process: the embedded mode of `npm start`, and
 * what the end-to-end tests start. Subgraphs listen on loopback ports only the router knows.
 */
export async function startPlatform(options: PlatformOptions): Promise<RunningPlatform> {
  const events = options.events ?? new InProcessEventBus();
  const audience = options.audience ?? 'somaagent';
  const streams = options.streams ?? new InMemoryStreamLog();
  await options.db.migrate([
    ...identityMigrations,
    ...sessionsMigrations,
    ...memoryMigrations,
    ...workflowsMigrations,
    ...capsulesMigrations,
  ]);

  const identity = await createIdentitySubgraph({
    db: options.db,
    events,
    issuer: options.issuer,
    audience,
    accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 900,
    platformAdminKey: options.platformAdminKey,
    ...(options.signingKeySecret ? { signingKeySecret: options.signingKeySecret } : {}),
    knownCapabilities: [
      ...IDENTITY_CAPABILITIES,
      ...SESSIONS_CAPABILITIES,
      ...POLICY_CAPABILITIES,
      ...MEMORY_CAPABILITIES,
      ...CAPSULES_CAPABILITIES,
    ],
  });
  // In a worker thread: a large document's embedding must not stall every other request.
  const embedder = options.embedder ?? new UniversalSentenceEncoderWorkerEmbeddingModel();
  const memory = await createMemorySubgraph({
    db: options.db,
    embedder,
    ...(options.memoryLimits ? { limits: options.memoryLimits } : {}),
  });
  // Sessions recall memory through a port: the two domains never import each other.
  const retriever: ContextRetriever = {
    async retrieve(claims, question, k, { sessionId }) {
      const context = await memory.service.retrieveContext(claims, {
        question,
        k,
        scopes: [{ kind: 'TENANT' }, { kind: 'USER' }, { kind: 'SESSION', id: sessionId }],
      });
      return {
        text: context.text,
        passages: context.citations.map((c) => ({
          marker: c.marker,
          memoryItemId: c.item.id,
          score: c.score,
        })),
      };
    },
  };
  // Capsule memory-recall steps, through the same port: a run has no session, so it searches the
  // tenant's memories and those of the user who started it, and hands whole items on as data
  // (recall, not retrieveContext: no prompt-sized truncation, k up to the schema's 50).
  const capsulesRetriever: ContextRetriever = {
    async retrieve(claims, question, k) {
      const hits = await memory.service.recall(claims, {
        query: question,
        k,
        scopes: [{ kind: 'TENANT' }, { kind: 'USER' }],
      });
      return {
        text: hits.map((h, i) => `[${i + 1}] ${h.item.content}`).join('\n\n'),
        passages: hits.map((h, i) => ({
          marker: i + 1,
          memoryItemId: h.item.id,
          score: h.score,
          text: h.item.content,
          scope: { kind: h.item.scope_kind, id: h.item.scope_id || null },
        })),
      };
    },
  };
  const policyEvaluator =
    options.policy === undefined || options.policy === 'embedded'
      ? await createWasmPolicyEvaluator()
      : options.policy;
  // One decider for the router's directives, the sessions subgraph's model calls and capsule
  // steps: the same engine, the same fail-closed switch, the same audit sink.
  const policyDecider = createPolicyDecider({
    evaluator: policyEvaluator,
    audit: events,
    failOpen: options.policyFailOpen ?? false,
  });
  const sessions = await createSessionsSubgraph({
    db: options.db,
    policy: policyDecider,
    events,
    streams,
    retriever,
    models: options.models ?? {},
    ...(options.prices ? { prices: options.prices } : {}),
    ...(options.sessionsLimits ? { limits: options.sessionsLimits } : {}),
  });
  const sessionsServer = await serveSubgraph({
    name: sessions.name,
    schema: sessions.schema,
    routerSecret: options.routerSecret,
    createContext: sessions.createContext,
    host: '127.0.0.1',
  });
  const memoryServer = await serveSubgraph({
    name: memory.name,
    schema: memory.schema,
    routerSecret: options.routerSecret,
    createContext: memory.createContext,
    host: '127.0.0.1',
  });
  const identityServer = await serveSubgraph({
    name: identity.name,
    schema: identity.schema,
    routerSecret: options.routerSecret,
    createContext: identity.createContext,
    getRoutes: identity.getRoutes,
    host: '127.0.0.1',
  });
  const policy = createPolicySubgraph({ evaluator: policyEvaluator });
  const policyServer = await serveSubgraph({
    name: policy.name,
    schema: policy.schema,
    routerSecret: options.routerSecret,
    createContext: policy.createContext,
    host: '127.0.0.1',
  });
  const objectStorage =
    options.objectStorage ??
    (await FileSystemObjectStorage.open(options.artifactsDir ?? resolve('.data/artifacts')));
  const workflowEngine =
    options.workflowEngine === undefined || options.workflowEngine === 'embedded'
      ? new JournalWorkflowEngine(options.db, {
          // The embedded database belongs to this process alone: every start, signal and cancel
          // goes through this engine and wakes it, so the poll only has to catch what another
          // process wrote, and there is none. At 100 ms it was a transaction 10 times a second on
          // the event loop that serves the graph (seen ahead of sendMessage's first token).
          ...(options.db.kind === 'pglite' ? { pollMs: 5_000 } : {}),
          workflows: { capsuleRun: capsuleRunWorkflow },
          activities: createActivities({
            db: options.db,
            streams,
            storage: objectStorage,
            policy: policyDecider,
            retriever: capsulesRetriever,
            ...(options.capsuleModel ? { chat: options.capsuleModel } : {}),
          }),
        }).startWorker()
      : options.workflowEngine;
  const capsules = createCapsulesSubgraph({
    db: options.db,
    engine: workflowEngine,
    storage: objectStorage,
    streams,
    policy: policyEvaluator,
  });
  const capsulesServer = await serveSubgraph({
    name: capsules.name,
    schema: capsules.schema,
    routerSecret: options.routerSecret,
    createContext: capsules.createContext,
    host: '127.0.0.1',
  });
  const identityJwks = identityServer.url.replace(/\/graphql$/, '/.well-known/jwks.json');

  const subgraphUrls = {
    identity: identityServer.url,
    sessions: sessionsServer.url,
    policy: policyServer.url,
    memory: memoryServer.url,
    capsules: capsulesServer.url,
  };
  const inProcessSubgraphs =
    (options.subgraphTransport ?? 'in-process') === 'in-process'
      ? Object.fromEntries(
          [identity, sessions, policy, memory, capsules].map((subgraph) => [
            subgraph.name,
            createInProcessExecutor(subgraph as InProcessSubgraphOptions<unknown>),
          ]),
        )
      : {};
  const router = await createRouter({
    supergraphSdl: options.supergraphSdl ?? readFileSync(defaultSupergraphPath, 'utf8'),
    subgraphUrls,
    inProcessSubgraphs,
    routerSecret: options.routerSecret,
    issuers: [
      { issuer: options.issuer, jwksUrl: identityJwks, audience, toClaims: claimsFromAccessTokenPayload },
      ...(options.externalIssuers ?? []),
    ],
    jwksUpstreamUrl: identityJwks,
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    introspection: options.introspection ?? true,
    allowedOrigins: options.allowedOrigins ?? [],
    limits: options.limits ?? {},
    policy: { decider: policyDecider },
  });

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await router.close();
    await identityServer.close();
    await sessionsServer.close();
    await policyServer.close();
    await memoryServer.close();
    await capsulesServer.close();
    if (workflowEngine !== options.workflowEngine) await workflowEngine[Symbol.asyncDispose]();
    if (!options.objectStorage) await objectStorage[Symbol.asyncDispose]();
    await memory[Symbol.asyncDispose]();
    if (!options.embedder) await embedder[Symbol.asyncDispose]();
    await sessions[Symbol.asyncDispose]();
    if (!options.streams) await streams[Symbol.asyncDispose]();
    if (!options.events) await events[Symbol.asyncDispose]();
  };
  return {
    url: router.url,
    wsUrl: router.wsUrl,
    subgraphUrls,
    sessions: sessions.service,
    workflowEngine,
    router,
    rotateSigningKey: () => identity.rotateSigningKey(),
    policy: policyEvaluator,
    close,
    [Symbol.asyncDispose]: close,
  };
}
