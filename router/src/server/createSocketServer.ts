import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type GatewayRuntime, getGraphQLWSOptions } from '@graphql-hive/gateway-runtime';
import { SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import { GraphQLError, getOperationAST, type OperationTypeNode, parse } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { type WebSocket, WebSocketServer } from 'ws';
import type { TokenVerifier } from '../auth/createTokenVerifier';
import { type PersistedDocuments, refuseUnlisted } from '../persistedDocuments';
import { bearerToken, type SomaRouterContext } from '../plugins/useTokenVerification';
import type { SocketQuota, SocketQuotas } from '../rateLimits/createSocketQuotas';
import type { ClientAddresses } from './clientAddress';
import { limitMessageRate } from './limitMessageRate';

/** The router limits that concern its WebSockets (RouterLimits documents each). */
export interface SocketLimits {
  maxBodyBytes: number;
  maxTokens: number;
  maxSubscriptionsPerConnection: number;
  connectionInitTimeoutMs: number;
  wsMessagesPerSecond: number;
  wsMessageBurst: number;
}

export interface SocketServerOptions {
  /** The router's HTTP server; its `upgrade` requests for /graphql become graphql-ws sockets. */
  http: Server;
  gateway: GatewayRuntime<SomaRouterContext>;
  verifier: TokenVerifier;
  socketQuotas: SocketQuotas;
  limits: SocketLimits;
  /** The Origin allowlist the HTTP side's CORS uses too. */
  originAllowed: (origin: string | undefined) => boolean;
  /** `http://host:port` once the server listens (sockets open only after that). */
  selfOrigin: () => string;
  persistedDocuments?: PersistedDocuments | undefined;
  /** Which client a socket is from (the TCP peer, or what a trusted proxy says). */
  clients: ClientAddresses;
  /** Told of every token refused at connect (metrics). */
  onTokenRefused?: () => void;
}

export interface SocketServer {
  /** Open WebSocket connections. */
  openSockets(): number;
  /** Ends every socket and stops accepting new ones; the HTTP server is the caller's to close. */
  close(): Promise<void>;
}

/** How often an open WebSocket's token is checked for revocation (docs/security.md §5). */
const REVOCATION_CHECK_MS = 1_000;

type SocketExtra = {
  somaClaims?: VerifiedClaims | null;
  activeSubscriptions?: Set<string>;
  expiryTimer?: NodeJS.Timeout;
  revocationTimer?: NodeJS.Timeout;
  rateQuota?: SocketQuota;
} & Record<PropertyKey, unknown>;

/**
 * graphql-ws on the router's /graphql path, guarded: Origin allowlist at the upgrade, the token
 * in `connection_init` (closed 4401 when it is missing or bad, and when it expires; 4403 when it
 * is revoked), per-socket message rate, per-connection subscription cap and per-user quotas.
 */
export function createSocketServer(options: SocketServerOptions): SocketServer {
  const { http, gateway, verifier, socketQuotas, limits, persistedDocuments } = options;
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxBodyBytes });
  const wsRate = { perSecond: limits.wsMessagesPerSecond, burst: limits.wsMessageBurst };
  wss.on('connection', (ws) => limitMessageRate(ws, wsRate));
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(req.url ?? '/', 'http://router').pathname;
    if (path !== '/graphql' || !options.originAllowed(req.headers.origin)) {
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
    somaClientIp: options.clients.of(ctx.extra.request as IncomingMessage | undefined),
    request: new Request(`${options.selfOrigin()}/graphql`, {
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
          options.onTokenRefused?.();
          (ctx.extra.socket as WebSocket).close(4401, truncateReason((error as Error).message));
          return false;
        }
        ctx.extra.somaClaims = claims;
        const msLeft = claims.expiresAt * 1000 - Date.now();
        const socket = ctx.extra.socket as WebSocket;
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
        const unlisted = persistedDocuments && refuseUnlisted(persistedDocuments, payload);
        if (unlisted) return [unlisted];
        const document = persistedDocuments?.documentFor(payload) ?? payload.query;
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

  return {
    openSockets: () => wss.clients.size,
    async close() {
      await wsServer.dispose();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
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

// WebSocket close reasons are limited to 123 bytes.
const truncateReason = (reason: string) =>
  Buffer.byteLength(reason) > 120 ? `${reason.slice(0, 117)}...` : reason;
