import { createServer } from 'node:http';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { createGatewayRuntime, type GatewayRuntime } from '@graphql-hive/gateway-runtime';
import { InMemoryRateLimiter } from '@somaagent/events';
import type { PlatformMetrics } from '@somaagent/observability';
import type { PolicyDecider } from '@somaagent/policy';
import type { RateLimiter } from '@somaagent/ports';
import { listenHttp, type SubgraphExecutor } from '@somaagent/subgraph-server';
import { createTokenVerifier, type TokenVerifier, type TrustedIssuer } from './auth/createTokenVerifier';
import { gatewayPersistedDocuments, type PersistedDocuments } from './persistedDocuments';
import { tagLimitRejection, useErrorStatus } from './plugins/useErrorStatus';
import { useInputSanitation } from './plugins/useInputSanitation';
import { useMetrics } from './plugins/useMetrics';
import { usePolicy } from './plugins/usePolicy';
import { readPolicyDirectives } from './plugins/usePolicyDirectives';
import { useRateLimits } from './plugins/useRateLimits';
import { useSignedSubgraphRequests } from './plugins/useSignedSubgraphRequests';
import { type SomaRouterContext, useTokenVerification } from './plugins/useTokenVerification';
import { createRequestBudgets, type RequestBudgets } from './rateLimits/createRequestBudgets';
import { createSocketQuotas } from './rateLimits/createSocketQuotas';
import { DEFAULT_RATE_LIMITS, type RateLimitSettings } from './rateLimits/RateLimitSettings';
import { type ClientAddresses, createClientAddresses } from './server/clientAddress';
import { createRequestListener } from './server/createRequestListener';
import { createSocketServer } from './server/createSocketServer';
import { limitConnectionsPerIp } from './server/limitConnectionsPerIp';
import { maskUnexpectedError } from './server/maskUnexpectedError';
import { createReadinessChecks, type ReadinessCheck, subgraphHealthCheck } from './server/readiness';

/**
 * Limits that protect the router; all ON by default (docs/router.md explains each). The quotas
 * and rate limits (per IP, user/API key, tenant; `tenantOverrides`) are in RateLimitSettings.
 */
export interface RouterLimits extends RateLimitSettings {
  /** @default 12 */ maxDepth: number;
  /** Aliases per operation, `__typename` aliases included. @default 30 */ maxAliases: number;
  /** Lexical tokens per document. @default 2000 */ maxTokens: number;
  /** Directives per operation. @default 20 */ maxDirectives: number;
  /** Static cost (graphql-armor cost model). @default 5000 */ maxCost: number;
  /** Operations per batched HTTP request. @default 10 */ maxBatchSize: number;
  /** Request body bytes; larger bodies get 413. @default 1_048_576 */ maxBodyBytes: number;
  /** Concurrent subscriptions on one WebSocket. @default 20 */ maxSubscriptionsPerConnection: number;
  /** A socket that has not sent connection_init by then is closed (4408). @default 3000 */
  connectionInitTimeoutMs: number;
  /** A request whose headers are not all in by then gets 408 and is closed. @default 10_000 */
  headersTimeoutMs: number;
  /** The same for the whole request, body included (slow bodies). @default 30_000 */
  requestTimeoutMs: number;
  /** TCP connections one client address may hold open (HTTP and WebSocket); 0: no cap. @default 256 */
  maxConnectionsPerIp: number;
  /** graphql-ws messages per second one socket may send, sustained; over it: close 4429. @default 50 */
  wsMessagesPerSecond: number;
  /** graphql-ws messages one socket may send at once after a quiet spell. @default 100 */
  wsMessageBurst: number;
}

export const DEFAULT_LIMITS: RouterLimits = {
  maxDepth: 12,
  maxAliases: 30,
  maxTokens: 2000,
  maxDirectives: 20,
  maxCost: 5000,
  maxBatchSize: 10,
  maxBodyBytes: 1_048_576,
  maxSubscriptionsPerConnection: 20,
  connectionInitTimeoutMs: 3000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  maxConnectionsPerIp: 256,
  wsMessagesPerSecond: 50,
  wsMessageBurst: 100,
  ...DEFAULT_RATE_LIMITS,
};

export interface RouterOptions {
  /** Composed supergraph SDL (schema/supergraph.graphql). */
  supergraphSdl: string;
  /** Where each subgraph actually listens (`name → http://host:port/graphql`), overriding routing_url. */
  subgraphUrls: Record<string, string>;
  /**
   * Subgraphs that run in this process (the embedded platform): operations go straight to their
   * executor (`createInProcessExecutor` of @somaagent/subgraph-server) with the claims the router
   * verified, instead of a signed HTTP request or a graphql-ws subscription to `subgraphUrls`.
   * @default {}
   */
  inProcessSubgraphs?: Record<string, SubgraphExecutor>;
  /** HMAC secret shared with the subgraphs. */
  routerSecret: string;
  /** Token issuers the router trusts (SomaAgent identity, external OIDC providers). */
  issuers: TrustedIssuer[];
  /** Internal JWKS of the identity subgraph, re-served publicly at `/.well-known/jwks.json`. */
  jwksUpstreamUrl?: string;
  /** @default '127.0.0.1' */ host?: string;
  /** @default 0 */ port?: number;
  /** Introspection (and GraphiQL) on; when off, field suggestions are hidden too. @default true */
  introspection?: boolean;
  /**
   * Browser origins allowed to open WebSockets and make CORS requests. The router's own origin
   * (GraphiQL) is always allowed; requests with no Origin (non-browser clients) are allowed.
   * @default []
   */
  allowedOrigins?: string[];
  /**
   * Addresses or CIDR blocks of the reverse proxies / load balancers in front of the router. A
   * request whose TCP peer is one of them is from the client X-Forwarded-For names (the first
   * untrusted hop from the right); per-IP budgets, sign-in throttling and audit see that client.
   * Anyone else's X-Forwarded-For is ignored. Trusted proxies are not under the per-IP
   * connection cap. @default [] (the TCP peer is the client)
   */
  trustedProxies?: string[];
  /**
   * The process's metrics: HTTP requests by route and status, operations by type and outcome,
   * refusals by rate limits and of tokens, open sockets (docs/observability.md). @default none
   */
  metrics?: PlatformMetrics;
  /**
   * What `/readyz` checks besides each HTTP subgraph's `/healthz` (the engines the process uses:
   * database, Redis, ...). 200 when all pass, else 503 naming the failed ones. @default {}
   */
  readiness?: Record<string, ReadinessCheck>;
  limits?: Partial<RouterLimits>;
  /**
   * Where quota and rate-limit counters live. Replicas behind one load balancer must share one
   * (a RedisRateLimiter on the same server) or each grants the whole budget again.
   * @default a new InMemoryRateLimiter (this process only)
   */
  rateLimiter?: RateLimiter;
  /**
   * Safelist: run only these registered operations (`createPersistedDocuments` /
   * `loadPersistedDocuments`), named by `documentId` or `extensions.persistedQuery.sha256Hash`;
   * query text is refused (403 PERSISTED_QUERY_REQUIRED), unknown ids too (400
   * PERSISTED_QUERY_NOT_FOUND). docs/router.md. @default undefined (any operation)
   */
  persistedDocuments?: PersistedDocuments;
  /**
   * Enforce the supergraph's `@policy` / `@requiresCapability` directives and the per-operation
   * policy with this decider (docs/policy.md). Without it the router asks no policy and the
   * subgraphs' own checks stand alone. @default undefined
   */
  policy?: {
    decider: PolicyDecider;
    /** Ask the `operation` policy once per operation. @default true */
    operationPolicy?: boolean;
  };
}

export interface RunningRouter extends AsyncDisposable {
  /** `http://host:port/graphql` */
  url: string;
  /** `ws://host:port/graphql` */
  wsUrl: string;
  /** Open WebSocket connections (tests assert cleanup). */
  openSockets(): number;
  close(): Promise<void>;
}

/** Transport kind of the subgraphs that run in the router's process. */
const IN_PROCESS = 'soma-in-process';

/**
 * The one public endpoint: Hive Gateway runtime (federated queries, mutations and
 * subscriptions) behind a small node:http layer that enforces body size, serves JWKS, and
 * guards the graphql-ws upgrade (Origin allowlist, token at connect, expiry, subscription cap).
 */
export async function createRouter(options: RouterOptions): Promise<RunningRouter> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const host = options.host ?? '127.0.0.1';
  const verifier = createTokenVerifier(options.issuers);
  const rateLimiter = options.rateLimiter ?? new InMemoryRateLimiter();
  const { metrics } = options;
  const budgets = createRequestBudgets(rateLimiter, limits, (scope) => metrics?.rateLimited.inc({ scope }));
  const socketQuotas = createSocketQuotas(rateLimiter, limits, budgets, limits.maxTokens);
  const allowedOrigins = new Set(options.allowedOrigins ?? []);
  let selfOrigin = '';
  const originAllowed = (origin: string | undefined) =>
    !origin || origin === selfOrigin || allowedOrigins.has(origin);

  const clients = createClientAddresses(options.trustedProxies);
  const gateway = createGateway(options, limits, { verifier, budgets, originAllowed, clients });
  const inProcess = new Set(Object.keys(options.inProcessSubgraphs ?? {}));
  const readiness = createReadinessChecks(
    {
      ...Object.fromEntries(
        Object.entries(options.subgraphUrls)
          .filter(([name]) => !inProcess.has(name))
          .map(([name, url]) => [`subgraph:${name}`, subgraphHealthCheck(url)]),
      ),
      ...options.readiness,
    },
    { metrics },
  );
  metrics?.watchReadiness(() => readiness.run());
  const http = createServer(
    createRequestListener({
      gateway,
      maxBodyBytes: limits.maxBodyBytes,
      jwksUpstreamUrl: options.jwksUpstreamUrl,
      selfOrigin: () => selfOrigin,
      metrics,
      readiness,
    }),
  );
  limitConnectionsPerIp(http, limits.maxConnectionsPerIp, clients, () =>
    metrics?.rateLimited.inc({ scope: 'connections' }),
  );
  const sockets = createSocketServer({
    http,
    gateway,
    verifier,
    socketQuotas,
    limits,
    originAllowed,
    selfOrigin: () => selfOrigin,
    persistedDocuments: options.persistedDocuments,
    clients,
    onTokenRefused: () => metrics?.tokenRejections.inc(),
  });
  metrics?.countSockets(() => sockets.openSockets());

  // The gateway builds its schema lazily on its first HTTP request; a socket's operation before
  // that would meet no schema at all.
  await gateway.getSchema();
  const { port } = await listenHttp(http, options.port ?? 0, host, {
    headersTimeoutMs: limits.headersTimeoutMs,
    requestTimeoutMs: limits.requestTimeoutMs,
  });
  selfOrigin = `http://${host}:${port}`;

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await sockets.close();
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
    await gateway.dispose();
    // Decisions do not wait for their audit event's acknowledgement; the router's close does.
    await options.policy?.decider.flushAudit();
    if (!options.rateLimiter) await rateLimiter[Symbol.asyncDispose]();
  };
  return {
    url: `${selfOrigin}/graphql`,
    wsUrl: `ws://${host}:${port}/graphql`,
    openSockets: () => sockets.openSockets(),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * The Hive Gateway runtime over the supergraph: where each subgraph is reached (HTTP, or its
 * in-process executor), the protocol options, and the plugins in the order they run.
 */
function createGateway(
  options: RouterOptions,
  limits: RouterLimits,
  deps: {
    verifier: TokenVerifier;
    budgets: RequestBudgets;
    originAllowed: (origin: string | undefined) => boolean;
    clients: ClientAddresses;
  },
): GatewayRuntime<SomaRouterContext> {
  const introspection = options.introspection ?? true;
  const transportEntries: Record<
    string,
    { kind?: string; location?: string; options?: Record<string, unknown> }
  > = {
    // Subgraphs serve subscriptions over graphql-ws on the same path (Apollo Server has no SSE).
    '*.http': { options: { subscriptions: { kind: 'ws', location: '/graphql' } } },
  };
  for (const [name, url] of Object.entries(options.subgraphUrls)) transportEntries[name] = { location: url };
  const inProcess = options.inProcessSubgraphs ?? {};
  for (const name of Object.keys(inProcess))
    transportEntries[name] = { kind: IN_PROCESS, location: `in-process:${name}` };

  return createGatewayRuntime<SomaRouterContext>({
    supergraph: options.supergraphSdl,
    transportEntries,
    // In-process subgraphs get their executor; every other kind loads its transport package,
    // as the gateway does by default (`@graphql-mesh/transport-<kind>`).
    transports: (kind: string) =>
      kind === IN_PROCESS
        ? {
            getSubgraphExecutor: ({ subgraphName }: { subgraphName: string }) => {
              const executor = inProcess[subgraphName];
              if (!executor) throw new Error(`no in-process executor for subgraph ${subgraphName}`);
              return executor as never;
            },
          }
        : import(`@graphql-mesh/transport-${kind}`),
    logging: process.env.SOMA_ROUTER_LOG_LEVEL === 'debug' ? 'debug' : 'warn',
    graphiql: introspection ? { title: 'SomaAgent', subscriptionsProtocol: 'WS' } : false,
    landingPage: false,
    disableIntrospection: introspection ? undefined : { disableIf: () => true },
    maskedErrors: { maskError: maskUnexpectedError },
    batching: { limit: limits.maxBatchSize },
    ...(options.persistedDocuments
      ? { persistedDocuments: gatewayPersistedDocuments(options.persistedDocuments) }
      : {}),
    csrfPrevention: { requestHeaders: ['x-graphql-csrf-token', 'content-type-json'] },
    cors: (request) => {
      const origin = request.headers.get('origin');
      return origin && deps.originAllowed(origin) ? { origin, credentials: true } : false;
    },
    plugins: () => [
      // First, so it sees every executed operation, those a later plugin stops included.
      ...(options.metrics ? [useMetrics(options.metrics)] : []),
      EnvelopArmorPlugin({
        maxDepth: { n: limits.maxDepth, flattenFragments: true, onReject: [tagLimitRejection] },
        // armor exempts `__typename` aliases by default; they cost the same, so they count here.
        maxAliases: { n: limits.maxAliases, allowList: [], onReject: [tagLimitRejection] },
        maxTokens: { n: limits.maxTokens, onReject: [tagLimitRejection] },
        maxDirectives: { n: limits.maxDirectives, onReject: [tagLimitRejection] },
        costLimit: { maxCost: limits.maxCost, onReject: [tagLimitRejection] },
        blockFieldSuggestion: { enabled: !introspection },
      }),
      useInputSanitation({ hideSuggestions: !introspection }),
      useRateLimits({
        budgets: deps.budgets,
        verifier: deps.verifier,
        maxTokens: limits.maxTokens,
        clients: deps.clients,
      }),
      useTokenVerification(deps.verifier, deps.clients, () => options.metrics?.tokenRejections.inc()),
      ...(options.policy
        ? [
            usePolicy({
              decider: options.policy.decider,
              directives: readPolicyDirectives(options.supergraphSdl),
              ...(options.policy.operationPolicy !== undefined
                ? { operationPolicy: options.policy.operationPolicy }
                : {}),
            }),
          ]
        : []),
      useSignedSubgraphRequests(options.routerSecret, new Set(Object.keys(inProcess))),
      useErrorStatus(),
    ],
  });
}
