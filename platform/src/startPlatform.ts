import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { UniversalSentenceEncoderWorkerEmbeddingModel } from '@somaagent/embeddings';
import { InMemoryStreamLog, InProcessEventBus } from '@somaagent/events';
import { claimsFromAccessTokenPayload, type IdentityDeps, identityModule } from '@somaagent/identity';
import type { MemoryDeps } from '@somaagent/memory';
import type { PlatformMetrics } from '@somaagent/observability';
import { createPolicyDecider, createWasmPolicyEvaluator } from '@somaagent/policy';
import type {
  ChatModel,
  CrossDomainPorts,
  EmbeddingModel,
  EventBus,
  NonceStore,
  ObjectStorage,
  PolicyEvaluator,
  RateLimiter,
  SqlDatabase,
  StreamLog,
  WorkflowEngine,
} from '@somaagent/ports';
import {
  createRouter,
  type PersistedDocuments,
  type ReadinessCheck,
  type RouterLimits,
  type TrustedIssuer,
  withRoleDirectory,
} from '@somaagent/router';
import {
  type ModelProvider,
  type PriceTable,
  type SessionService,
  type SessionsDeps,
  sessionsModule,
} from '@somaagent/sessions';
import {
  createInProcessExecutor,
  type ModuleInstance,
  type ModuleRuntime,
  type RunningSubgraph,
  type SubgraphExecutor,
  serveSubgraph,
} from '@somaagent/subgraph-server';
import { capsuleRunWorkflow } from '@somaagent/workers';
import { FileSystemObjectStorage, JournalWorkflowEngine, workflowsMigrations } from '@somaagent/workflows';
import { bridges } from './bridges/index';
import { type CapsuleModel, createCapsuleRunActivities } from './createCapsuleRunActivities';
import { type CreatedModule, createModules, disposeModules } from './createModules';
import { type ModuleConfigs, type PlatformModule, platformModules } from './modules';

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
  /** Sign-in brute-force throttling (docs/security.md §4). @default the identity subgraph's defaults */
  signInThrottle?: IdentityDeps['signInThrottle'];
  /** @default true */ introspection?: boolean;
  /** @default [] */ allowedOrigins?: string[];
  /** Reverse proxies whose X-Forwarded-For names the client (RouterOptions.trustedProxies). @default [] */
  trustedProxies?: string[];
  /** The process's metrics, recorded by the router (serve them with `serveMetrics`). @default none */
  metrics?: PlatformMetrics;
  /**
   * What the router's `/readyz` checks besides the database (always) and HTTP subgraphs: the
   * other engines the caller connected (Redis, Kafka...). @default {}
   */
  readiness?: Record<string, ReadinessCheck>;
  /** External OIDC issuers trusted next to SomaAgent's own. @default [] */
  externalIssuers?: TrustedIssuer[];
  limits?: Partial<RouterLimits>;
  /**
   * Counters of the router's request budgets, per-user socket quotas and the sessions'
   * concurrent-generation slots. Replicas must share one (a RedisRateLimiter on the same
   * server) or each grants the whole budget again. @default one InMemoryRateLimiter per consumer
   */
  rateLimiter?: RateLimiter;
  /**
   * Where subgraph servers remember the nonces of router envelopes they accepted (a captured
   * request is refused when replayed). Replicas of a subgraph must share one (RedisNonceStore).
   * @default an InMemoryNonceStore per subgraph server
   */
  nonces?: NonceStore;
  /** Safelist: the router runs only these registered operations (docs/router.md). @default undefined (any operation) */
  persistedDocuments?: PersistedDocuments;
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
  capsuleModel?: CapsuleModel;
}

export interface RunningPlatform extends AsyncDisposable {
  url: string;
  wsUrl: string;
  /** The identity subgraph's internal address (tests prove it refuses unsigned requests). */
  subgraphUrls: Record<string, string>;
  router: Awaited<ReturnType<typeof createRouter>>;
  /** The sessions service (tests read its live-generation count). */
  sessions: SessionService;
  rotateSigningKey(): Promise<{ kid: string }>;
  /** The router's policy engine (tests count its evaluations). */
  policy: PolicyEvaluator;
  /** The capsule-run engine in use. */
  workflowEngine: WorkflowEngine;
  close(): Promise<void>;
}

const defaultSupergraphPath = resolve(import.meta.dirname, '../../schema/supergraph.graphql');

/** Each module's settings out of the platform's options (the one place options meet modules). */
function moduleConfigs(options: PlatformOptions): ModuleConfigs {
  return {
    identity: {
      issuer: options.issuer,
      audience: options.audience ?? 'somaagent',
      accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 900,
      platformAdminKey: options.platformAdminKey,
      ...(options.signingKeySecret ? { signingKeySecret: options.signingKeySecret } : {}),
      ...(options.signInThrottle ? { signInThrottle: options.signInThrottle } : {}),
    },
    sessions: {
      models: options.models ?? {},
      ...(options.prices ? { prices: options.prices } : {}),
      ...(options.sessionsLimits ? { limits: options.sessionsLimits } : {}),
      ...(options.rateLimiter ? { rateLimiter: options.rateLimiter } : {}),
    },
    memory: options.memoryLimits ? { limits: options.memoryLimits } : {},
  };
}

/**
 * Wires every module of `platformModules` and the router into one process: the embedded mode of
 * `npm start`, and what the end-to-end tests start. Subgraphs listen on loopback ports only the
 * router knows. Migrating, creating, serving and disposing loop over the one list; the seams
 * between domains are the named bridges of ./bridges.
 */
export async function startPlatform(options: PlatformOptions): Promise<RunningPlatform> {
  const audience = options.audience ?? 'somaagent';
  // What this function built (not handed in), disposed in reverse order on close.
  const owned: AsyncDisposable[] = [];
  const own = <T extends AsyncDisposable>(resource: T): T => {
    owned.push(resource);
    return resource;
  };
  const events = options.events ?? own(new InProcessEventBus());
  const streams = options.streams ?? own(new InMemoryStreamLog());
  await options.db.migrate([...workflowsMigrations, ...platformModules.flatMap((m) => m.migrations)]);

  const policyEvaluator =
    options.policy === undefined || options.policy === 'embedded'
      ? await createWasmPolicyEvaluator()
      : options.policy;
  // One decider for the router's directives, the sessions subgraph's model calls and capsule
  // steps: the same engine, the same fail-closed switch, the same audit sink.
  const policy = createPolicyDecider({
    evaluator: policyEvaluator,
    audit: events,
    failOpen: options.policyFailOpen ?? false,
  });
  // In a worker thread: a large document's embedding must not stall every other request.
  const embedder = options.embedder ?? own(new UniversalSentenceEncoderWorkerEmbeddingModel());
  const objectStorage =
    options.objectStorage ??
    own(await FileSystemObjectStorage.open(options.artifactsDir ?? resolve('.data/artifacts')));

  const ports: Partial<CrossDomainPorts> = {};
  let engine: WorkflowEngine | undefined;
  const runtime: ModuleRuntime = {
    db: options.db,
    events,
    streams,
    objectStorage,
    policyEvaluator,
    policy,
    embedder,
    knownCapabilities: platformModules.flatMap((m) => m.capabilities),
    async workflowEngine() {
      engine ??=
        options.workflowEngine === undefined || options.workflowEngine === 'embedded'
          ? new JournalWorkflowEngine(options.db, {
              // The embedded database belongs to this process alone: every start, signal and
              // cancel goes through this engine and wakes it, so the poll only has to catch what
              // another process wrote, and there is none. At 100 ms it was a transaction 10 times
              // a second on the event loop that serves the graph.
              ...(options.db.kind === 'pglite' ? { pollMs: 5_000 } : {}),
              workflows: { capsuleRun: capsuleRunWorkflow },
              activities: createCapsuleRunActivities(runtime, ports, options.capsuleModel),
            }).startWorker()
          : options.workflowEngine;
      return engine;
    },
  };

  const created = await createModules({
    modules: platformModules,
    runtime,
    configs: moduleConfigs(options),
    bridges,
    ports,
  });
  const instanceOf = <M extends PlatformModule>(module: M) =>
    created.find((c) => c.module === module)!.instance as ModuleInstance<M>;

  const servers: RunningSubgraph[] = [];
  for (const { instance } of created) {
    servers.push(
      await serveSubgraph({
        name: instance.name,
        schema: instance.schema,
        routerSecret: options.routerSecret,
        createContext: (claims) => instance.createContext(claims) as object | Promise<object>,
        ...(instance.getRoutes ? { getRoutes: instance.getRoutes } : {}),
        host: '127.0.0.1',
        ...(options.nonces ? { nonces: options.nonces } : {}),
      }),
    );
  }
  const subgraphUrls: Record<string, string> = Object.fromEntries(servers.map((s) => [s.name, s.url]));
  const inProcessSubgraphs: Record<string, SubgraphExecutor> =
    (options.subgraphTransport ?? 'in-process') === 'in-process'
      ? Object.fromEntries(created.map(({ instance }) => [instance.name, createInProcessExecutor(instance)]))
      : {};
  const identityJwks = subgraphUrls.identity!.replace(/\/graphql$/, '/.well-known/jwks.json');
  const router = await createRouter({
    supergraphSdl: options.supergraphSdl ?? readFileSync(defaultSupergraphPath, 'utf8'),
    subgraphUrls,
    inProcessSubgraphs,
    routerSecret: options.routerSecret,
    issuers: [
      {
        issuer: options.issuer,
        jwksUrl: identityJwks,
        audience,
        toClaims: claimsFromAccessTokenPayload,
        // Revoked keys, disabled users and removed roles refuse tokens already issued.
        isRevoked: instanceOf(identityModule).isRevoked,
      },
      // Bound roles of external identities grant what they grant in the tenant (RBAC applies).
      ...(options.externalIssuers ?? []).map((issuer) =>
        withRoleDirectory(issuer, instanceOf(identityModule).roleDirectory),
      ),
    ],
    jwksUpstreamUrl: identityJwks,
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    introspection: options.introspection ?? true,
    allowedOrigins: options.allowedOrigins ?? [],
    trustedProxies: options.trustedProxies ?? [],
    ...(options.metrics ? { metrics: options.metrics } : {}),
    readiness: {
      database: () =>
        options.db.withScope({ tenantId: null }, (tx) => tx.query('SELECT 1')).then(() => undefined),
      ...options.readiness,
    },
    limits: options.limits ?? {},
    policy: { decider: policy },
    ...(options.rateLimiter ? { rateLimiter: options.rateLimiter } : {}),
    ...(options.persistedDocuments ? { persistedDocuments: options.persistedDocuments } : {}),
  });

  const workflowEngine = await runtime.workflowEngine();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await router.close();
    for (const server of servers) await server.close();
    if (workflowEngine !== options.workflowEngine) await workflowEngine[Symbol.asyncDispose]();
    await disposeModules(created satisfies CreatedModule[]);
    for (const resource of owned.reverse()) await resource[Symbol.asyncDispose]();
  };
  return {
    url: router.url,
    wsUrl: router.wsUrl,
    subgraphUrls,
    sessions: instanceOf(sessionsModule).service,
    workflowEngine,
    router,
    rotateSigningKey: () => instanceOf(identityModule).rotateSigningKey(),
    policy: policyEvaluator,
    close,
    [Symbol.asyncDispose]: close,
  };
}
