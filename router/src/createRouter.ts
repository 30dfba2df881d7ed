import { isUtf8 } from 'node:buffer';
import { createServer, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { createGatewayRuntime, getGraphQLWSOptions } from '@graphql-hive/gateway-runtime';
import { SomaError } from '@somaagent/errors';
import { InMemoryRateLimiter } from '@somaagent/events';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { PolicyDecider } from '@somaagent/policy';
import type { RateLimiter } from '@somaagent/ports';
import { listenHttp, type SubgraphExecutor } from '@somaagent/subgraph-server';
import { GraphQLError, getOperationAST, type OperationTypeNode, parse } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { createTokenVerifier, type TrustedIssuer } from './auth/createTokenVerifier';
import { gatewayPersistedDocuments, type PersistedDocuments, refuseUnlisted } from './persistedDocuments';
import { tagLimitRejection, useErrorStatus } from './plugins/useErrorStatus';
import { useInputSanitation } from './plugins/useInputSanitation';
import { usePolicy } from './plugins/usePolicy';
import { readPolicyDirectives } from './plugins/usePolicyDirectives';
import { useRateLimits } from './plugins/useRateLimits';
import { useSignedSubgraphRequests } from './plugins/useSignedSubgraphRequests';
import { bearerToken, type SomaRouterContext, useTokenVerification } from './plugins/useTokenVerification';
import { createRequestBudgets } from './rateLimits/createRequestBudgets';
import { createSocketQuotas, type SocketQuota } from './rateLimits/createSocketQuotas';
import { DEFAULT_RATE_LIMITS, type RateLimitSettings } from './rateLimits/RateLimitSettings';
import { limitConnectionsPerIp } from './server/limitConnectionsPerIp';
import { limitMessageRate } from './server/limitMessageRate';

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

/** How often an open WebSocket's token is checked for revocation (docs/security.md §5). */
const REVOCATION_CHECK_MS = 1_000;

/** Transport kind of the subgraphs that run in the router's process. */
const IN_PROCESS = 'soma-in-process';

type SocketExtra = {
  somaClaims?: VerifiedClaims | null;
  activeSubscriptions?: Set<string>;
  expiryTimer?: NodeJS.Timeout;
  revocationTimer?: NodeJS.Timeout;
  rateQuota?: SocketQuota;
} & Record<PropertyKey, unknown>;

/**
 * The one public endpoint: Hive Gateway runtime (federated queries, mutations and
 * subscriptions) behind a small node:http layer that enforces body size, serves JWKS, and
 * guards the graphql-ws upgrade (Origin allowlist, token at connect, expiry, subscription cap).
 */
export async function createRouter(options: RouterOptions): Promise<RunningRouter> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const introspection = options.introspection ?? true;
  const host = options.host ?? '127.0.0.1';
  const verifier = createTokenVerifier(options.issuers);
  const rateLimiter = options.rateLimiter ?? new InMemoryRateLimiter();
  const budgets = createRequestBudgets(rateLimiter, limits);
  const socketQuotas = createSocketQuotas(rateLimiter, limits, budgets, limits.maxTokens);
  const allowedOrigins = new Set(options.allowedOrigins ?? []);
  let selfOrigin = '';
  const originAllowed = (origin: string | undefined) =>
    !origin || origin === selfOrigin || allowedOrigins.has(origin);

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

  const gateway = createGatewayRuntime<SomaRouterContext>({
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
      return origin && originAllowed(origin) ? { origin, credentials: true } : false;
    },
    plugins: () => [
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
      useRateLimits({ budgets, verifier, maxTokens: limits.maxTokens }),
      useTokenVerification(verifier),
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

  const http = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', selfOrigin || 'http://router');
      if (req.method === 'GET' && url.pathname === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
        return;
      }
      if (req.method === 'GET' && url.pathname === '/.well-known/jwks.json' && options.jwksUpstreamUrl) {
        const upstream = await fetch(options.jwksUpstreamUrl);
        res.writeHead(upstream.status, {
          'content-type': 'application/json',
          'cache-control': 'max-age=300',
        });
        res.end(await upstream.text());
        return;
      }
      if (url.pathname !== '/graphql') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            errors: [{ message: 'the endpoint is /graphql', extensions: { code: 'NOT_FOUND' } }],
          }),
        );
        return;
      }
      const body = await readLimitedBody(req, limits.maxBodyBytes);
      if (body === 'aborted') return;
      if (body === 'too-large') {
        res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
        res.end(
          JSON.stringify({
            errors: [
              {
                message: `request body exceeds ${limits.maxBodyBytes} bytes`,
                extensions: { code: 'PAYLOAD_TOO_LARGE', limit: limits.maxBodyBytes },
              },
            ],
          }),
        );
        return;
      }
      // The gateway's own Node adapter: it takes the body we read (see parsedBody) and writes a
      // plain JSON response in one write (a fetch Request/Response pair built here cost ~1 ms of
      // web streams per operation; bench/sessions trace). SSE and multipart stream as before.
      const parsed = body && body.length > 0 ? parsedBody(req, body) : undefined;
      if (parsed === EMPTY_BATCH || parsed === NOT_UTF8) {
        res.writeHead(400, { 'content-type': 'application/json' });
        const message =
          parsed === EMPTY_BATCH
            ? 'a batch needs at least one operation'
            : 'the request body is not valid UTF-8: send JSON encoded as UTF-8';
        res.end(JSON.stringify({ errors: [{ message, extensions: { code: 'BAD_USER_INPUT' } }] }));
        return;
      }
      if (parsed !== undefined) (req as IncomingMessage & { body?: unknown }).body = parsed;
      await gateway.requestListener(req, res);
    } catch (error) {
      console.error('[router] request failed', error);
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            errors: [{ message: 'internal error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }],
          }),
        );
      } else res.end();
    }
  });

  limitConnectionsPerIp(http, limits.maxConnectionsPerIp);
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxBodyBytes });
  const wsRate = { perSecond: limits.wsMessagesPerSecond, burst: limits.wsMessageBurst };
  wss.on('connection', (ws) => limitMessageRate(ws, wsRate));
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(req.url ?? '/', 'http://router').pathname;
    if (path !== '/graphql' || !originAllowed(req.headers.origin)) {
      socket.end(
        `HTTP/1.1 ${path !== '/graphql' ? '404 Not Found' : '403 Forbidden'}\r\nconnection: close\r\n\r\n`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  const wsOptions = getGraphQLWSOptions<SomaRouterContext, SocketExtra>(gateway, (ctx) => ({
    somaClaims: ctx.extra.somaClaims ?? null,
    // Per-IP sign-in throttling (identity) sees WebSocket clients too.
    somaClientIp: (ctx.extra.request as IncomingMessage | undefined)?.socket.remoteAddress,
    request: new Request(`${selfOrigin}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    }),
  }));
  const wsServer = useServer<Record<string, unknown> | undefined, SocketExtra>(
    {
      ...wsOptions,
      connectionInitWaitTimeout: limits.connectionInitTimeoutMs,
      onConnect: async (ctx) => {
        ctx.extra.activeSubscriptions = new Set();
        const params = ctx.connectionParams ?? {};
        const raw = typeof params.authorization === 'string' ? params.authorization : undefined;
        let claims: VerifiedClaims;
        let token: string | null;
        try {
          token = (raw ? bearerToken(raw) : null) ?? (typeof params.token === 'string' ? params.token : null);
          if (!token)
            throw new SomaError(
              'UNAUTHENTICATED',
              'connectionParams must carry { authorization: "Bearer <token>" }',
            );
          claims = await verifier.verify(token);
        } catch (error) {
          (ctx.extra.socket as import('ws').WebSocket).close(4401, truncateReason((error as Error).message));
          return false;
        }
        ctx.extra.somaClaims = claims;
        const msLeft = claims.expiresAt * 1000 - Date.now();
        const socket = ctx.extra.socket as import('ws').WebSocket;
        // Timers beyond 2^31-1 ms overflow to 1 ms; tokens that long-lived are refused anyway.
        ctx.extra.expiryTimer = setTimeout(
          () => socket.close(4401, 'token expired'),
          Math.min(Math.max(0, msLeft), 2_147_483_647),
        );
        // A revoked token (key revoked, user disabled, role removed) closes its socket with 4403
        // within REVOCATION_CHECK_MS; verify() is a cache lookup plus the issuer's revocation check.
        const held = token;
        ctx.extra.revocationTimer = setInterval(() => {
          verifier.verify(held).catch((error: unknown) => {
            if ((error as SomaError).extensions?.revoked === true) socket.close(4403, 'token revoked');
          });
        }, REVOCATION_CHECK_MS);
        const quota = await socketQuotas.open(claims, socket);
        if (!quota) return false;
        ctx.extra.rateQuota = quota;
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        if (!ctx.extra.activeSubscriptions) ctx.extra.activeSubscriptions = new Set();
        const active = ctx.extra.activeSubscriptions;
        // Only subscriptions count: a query or mutation sent over the socket (a streaming
        // client's sendMessage) ends by itself and must not be refused because the socket is full.
        const unlisted = options.persistedDocuments && refuseUnlisted(options.persistedDocuments, payload);
        if (unlisted) return [unlisted];
        const document = options.persistedDocuments?.documentFor(payload) ?? payload.query;
        const subscription =
          operationTypeOf(document, payload.operationName, limits.maxTokens) === 'subscription';
        if (subscription) {
          if (active.size >= limits.maxSubscriptionsPerConnection) {
            return [
              new GraphQLError(
                `at most ${limits.maxSubscriptionsPerConnection} concurrent subscriptions per connection; complete one first`,
                { extensions: { code: 'QUERY_TOO_COMPLEX', limit: limits.maxSubscriptionsPerConnection } },
              ),
            ];
          }
          active.add(id);
        }
        const refused = await ctx.extra.rateQuota?.admit(id, document, payload.operationName, subscription);
        if (refused) return refused;
        return wsOptions.onSubscribe!(ctx as never, id, payload);
      },
      onComplete: (ctx, id) => {
        ctx.extra.activeSubscriptions?.delete(id);
        ctx.extra.rateQuota?.done(id);
      },
      onError: (ctx, id) => {
        ctx.extra.activeSubscriptions?.delete(id);
        ctx.extra.rateQuota?.done(id);
      },
      onClose: (ctx) => {
        clearTimeout(ctx.extra.expiryTimer);
        clearInterval(ctx.extra.revocationTimer);
        ctx.extra.rateQuota?.close();
      },
    },
    wss,
  );

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
    await wsServer.dispose();
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
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
    openSockets: () => wss.clients.size,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Operation types of recently seen small documents (clients send the same few again and again). */
const operationTypes = new Map<string, OperationTypeNode | null>();
const REMEMBERED_DOCUMENT_CHARS = 16_384;
/**
 * The type of the operation a graphql-ws payload runs, or null when the document does not parse
 * within the token limit (the gateway then reports why). The gateway parses the document only
 * after the socket's subscription cap is applied, so the router looks for itself.
 */
function operationTypeOf(
  query: string,
  operationName: string | null | undefined,
  maxTokens: number,
): OperationTypeNode | null {
  const key = `${operationName ?? ''}\0${query}`;
  let type = operationTypes.get(key);
  if (type !== undefined) return type;
  try {
    type = getOperationAST(parse(query, { maxTokens }), operationName ?? undefined)?.operation ?? null;
  } catch {
    type = null;
  }
  if (key.length <= REMEMBERED_DOCUMENT_CHARS) {
    operationTypes.set(key, type);
    if (operationTypes.size > 1_000) operationTypes.delete(operationTypes.keys().next().value!);
  }
  return type;
}

/**
 * Errors with one of our stable codes pass as they are; anything else (including a subgraph
 * error without a code) becomes a generic INTERNAL_SERVER_ERROR: no stack, host or file names.
 */
function maskUnexpectedError(error: unknown): Error {
  const graphqlError = error instanceof GraphQLError ? error : undefined;
  const code = graphqlError?.extensions?.code;
  if (graphqlError && typeof code === 'string' && code !== 'INTERNAL_SERVER_ERROR') return graphqlError;
  // The runtime's own protocol rejections (CSRF, batching, method) carry a 4xx but no code.
  const status = (graphqlError?.extensions?.http as { status?: number } | undefined)?.status;
  if (graphqlError && status && status >= 400 && status < 500) {
    const assigned =
      status === 403 ? 'CSRF_REJECTED' : status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_USER_INPUT';
    return new GraphQLError(graphqlError.message, {
      extensions: { ...graphqlError.extensions, code: assigned },
    });
  }
  if (
    !(
      graphqlError?.extensions?.code === 'INTERNAL_SERVER_ERROR' &&
      graphqlError.message.startsWith('Internal error')
    )
  ) {
    console.error('[router] unexpected error', error);
  }
  return new GraphQLError('Internal error; it has been logged', {
    ...(graphqlError?.path ? { path: graphqlError.path } : {}),
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  });
}

// WebSocket close reasons are limited to 123 bytes.
const truncateReason = (reason: string) =>
  Buffer.byteLength(reason) > 120 ? `${reason.slice(0, 117)}...` : reason;

/**
 * What the gateway's Node adapter gets as the request body: a JSON operation (or batch) already
 * parsed, anything else as text. Parsed, the gateway reads it as it is; as bytes, its own
 * 25 MB body limit (which cannot be switched off through the gateway's options) pipes them
 * through a web TransformStream first: ~0.2 ms per request, for a limit this router already
 * applied (readLimitedBody). A body that is not a non-empty JSON object or array goes as text,
 * so the gateway answers it with its usual error.
 */
const EMPTY_BATCH = Symbol('empty batch');
/** Decoding would turn invalid bytes into U+FFFD silently, and that text would be stored. */
const NOT_UTF8 = Symbol('not UTF-8');
function parsedBody(req: IncomingMessage, body: Buffer): unknown {
  if (!isUtf8(body)) return NOT_UTF8;
  const text = body.toString('utf8');
  if (!/json/i.test(req.headers['content-type'] ?? '')) return text;
  try {
    const parsed: unknown = JSON.parse(text);
    // The gateway would answer `[]` with 200 and `[]`: refused here with a code instead.
    if (Array.isArray(parsed) && parsed.length === 0) return EMPTY_BATCH;
    return parsed !== null && typeof parsed === 'object' && Object.keys(parsed).length > 0 ? parsed : text;
  } catch {
    return text;
  }
}

async function readLimitedBody(
  req: IncomingMessage,
  limit: number,
): Promise<Buffer | 'too-large' | 'aborted' | null> {
  if (req.method === 'GET' || req.method === 'HEAD') return null;
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) return 'too-large';
  // Events rather than `for await`: the async iterator costs ~0.1 ms per request (bench trace).
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      req.resume(); // drain the rest; the answer is 413 either way
      resolve('too-large');
    };
    req.on('data', onData);
    let ended = false;
    req.once('end', () => {
      ended = true;
      resolve(size > limit ? 'too-large' : Buffer.concat(chunks, size));
    });
    // The client went away mid-body, or the request timeout cut it off: no one to answer, and
    // nothing to log (a slow-body attack would otherwise write one error per connection).
    req.once('error', () => resolve('aborted'));
    req.once('close', () => {
      if (!ended) resolve('aborted');
    });
  });
}
