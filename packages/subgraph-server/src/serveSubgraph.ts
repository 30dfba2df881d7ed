import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import {
  acceptRouterEnvelope,
  EnvelopeRejected,
  InMemoryNonceStore,
  ROUTER_ENVELOPE_EXTENSION,
  type VerifiedClaims,
} from '@somaagent/internal-auth';
import type { NonceStore } from '@somaagent/ports';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { clientIpFrom, type SubgraphRequestInfo } from './inProcessExecutor';
import { listenHttp } from './listenHttp';

export interface ServeSubgraphOptions<TContext> {
  /** Subgraph name, used in logs and health output. */
  name: string;
  /** Schema built with `buildSubgraphSchema`. */
  schema: GraphQLSchema;
  /** Shared secret the router signs every request with (HMAC-SHA256). */
  routerSecret: string;
  /**
   * Where the nonces of accepted router envelopes are remembered, so a captured request is
   * executed once. Replicas of one subgraph must share it (a `RedisNonceStore`); a store passed
   * in belongs to the caller. @default a new InMemoryNonceStore (this server alone), closed with it
   */
  nonces?: NonceStore;
  /** Builds the per-operation context from the claims the router verified (and the client IP it forwarded). */
  createContext: (
    claims: VerifiedClaims | null,
    request?: SubgraphRequestInfo,
  ) => TContext | Promise<TContext>;
  /**
   * Interface to listen on. Subgraphs are internal: loopback unless the deployment puts them on
   * a private network.
   * @default '127.0.0.1'
   */
  host?: string;
  /** @default 0 (a free port) */
  port?: number;
  /** @default 1_048_576 bytes */
  maxBodyBytes?: number;
  /** Extra plain-HTTP routes (e.g. a JWKS document), matched on exact path for GET requests. */
  getRoutes?: Record<string, () => Promise<{ status: number; body: unknown }>>;
}

export interface RunningSubgraph extends AsyncDisposable {
  name: string;
  /** `http://host:port/graphql` */
  url: string;
  close(): Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
};

const rejectBody = (message: string, code: string) => ({ errors: [{ message, extensions: { code } }] });

async function readBody(req: IncomingMessage, limit: number): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Serves one federation subgraph: queries and mutations over HTTP (Apollo Server) and
 * subscriptions over graphql-ws, both on `/graphql`. Every operation must carry the router's
 * signed envelope; anything else is refused before parsing, so `_entities`/`_service` are
 * reachable only through the router's own query planner.
 */
export async function serveSubgraph<TContext extends object>(
  options: ServeSubgraphOptions<TContext>,
): Promise<RunningSubgraph> {
  const { name, schema, routerSecret, createContext, host = '127.0.0.1', port = 0 } = options;
  const maxBodyBytes = options.maxBodyBytes ?? 1_048_576;
  const nonces = options.nonces ?? new InMemoryNonceStore();
  const apollo = new ApolloServer<TContext>({
    schema,
    // The router owns the public API surface (introspection, error masking); the subgraph only
    // needs to answer the router's planned operations.
    introspection: true,
    includeStacktraceInErrorResponses: false,
    csrfPrevention: false,
    // Traces would only ride along to the router and leak timings; the router has its own telemetry.
    plugins: [ApolloServerPluginInlineTraceDisabled()],
    formatError: (formatted, error) => {
      const code = formatted.extensions?.code;
      if (typeof code === 'string' && code !== 'INTERNAL_SERVER_ERROR') return formatted;
      // Unexpected failures keep their detail in this process's log only: messages of driver or
      // network errors name hosts, files and queries.
      console.error(`[${name}] unexpected error`, error);
      return {
        message: 'Internal error; it has been logged',
        path: formatted.path,
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      };
    },
  });
  await apollo.start();

  const http = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://subgraph');
      if (req.method === 'GET' && url.pathname === '/healthz') return json(res, 200, { status: 'ok', name });
      const route = req.method === 'GET' ? options.getRoutes?.[url.pathname] : undefined;
      if (route) {
        const { status, body } = await route();
        return json(res, status, body);
      }
      if (url.pathname !== '/graphql' || req.method !== 'POST') {
        return json(res, 404, rejectBody('POST /graphql only', 'NOT_FOUND'));
      }
      const raw = await readBody(req, maxBodyBytes);
      if (raw === null) return json(res, 413, rejectBody('request body too large', 'PAYLOAD_TOO_LARGE'));
      let body: {
        query?: string;
        variables?: Record<string, unknown>;
        operationName?: string;
        extensions?: Record<string, unknown>;
      };
      try {
        body = JSON.parse(raw);
      } catch {
        return json(res, 400, rejectBody('body is not JSON', 'BAD_USER_INPUT'));
      }
      let claims: VerifiedClaims | null;
      try {
        claims = await acceptRouterEnvelope(
          routerSecret,
          { query: body.query ?? '', variables: body.variables, operationName: body.operationName },
          body.extensions?.[ROUTER_ENVELOPE_EXTENSION],
          nonces,
        );
      } catch (error) {
        if (error instanceof EnvelopeRejected) {
          return json(res, 401, rejectBody(error.message, 'UNAUTHENTICATED'));
        }
        console.error(`[${name}] nonce store unavailable`, error);
        return json(res, 503, rejectBody('replay guard unavailable; retry shortly', 'UNAVAILABLE'));
      }
      const headers = new HeaderMap();
      for (const [key, value] of Object.entries(req.headers)) {
        if (typeof value === 'string') headers.set(key, value);
      }
      const result = await apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: 'POST', headers, search: url.search, body },
        context: async () => createContext(claims, { clientIp: clientIpFrom(body.extensions) }),
      });
      for (const [key, value] of result.headers) res.setHeader(key, value);
      res.statusCode = result.status ?? 200;
      if (result.body.kind === 'complete') {
        res.end(result.body.string);
      } else {
        for await (const chunk of result.body.asyncIterator) res.write(chunk);
        res.end();
      }
    } catch (error) {
      if (!res.headersSent) json(res, 500, rejectBody('internal error', 'INTERNAL_SERVER_ERROR'));
      else res.end();
      console.error(`[${name}] request failed`, error);
    }
  });

  const wss = new WebSocketServer({ server: http, path: '/graphql', maxPayload: maxBodyBytes });
  const claimsBySubscription = new Map<string, VerifiedClaims | null>();
  const wsServer = useServer(
    {
      schema,
      onSubscribe: async (_ctx, id, payload) => {
        try {
          claimsBySubscription.set(
            id,
            await acceptRouterEnvelope(
              routerSecret,
              { query: payload.query, variables: payload.variables, operationName: payload.operationName },
              payload.extensions?.[ROUTER_ENVELOPE_EXTENSION],
              nonces,
            ),
          );
        } catch (error) {
          if (error instanceof EnvelopeRejected) {
            return [new GraphQLError(error.message, { extensions: { code: 'UNAUTHENTICATED' } })];
          }
          console.error(`[${name}] nonce store unavailable`, error);
          return [
            new GraphQLError('replay guard unavailable; retry shortly', {
              extensions: { code: 'UNAVAILABLE' },
            }),
          ];
        }
      },
      context: async (_ctx, id) => {
        const claims = claimsBySubscription.get(id) ?? null;
        claimsBySubscription.delete(id);
        return createContext(claims) as Record<string, unknown>;
      },
    },
    wss,
  );

  const address = await listenHttp(http, port, host);
  const url = `http://${host}:${address.port}/graphql`;

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await wsServer.dispose();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
    await apollo.stop();
    if (!options.nonces) await nonces[Symbol.asyncDispose]();
  };
  return { name, url, close, [Symbol.asyncDispose]: close };
}
