import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, RequestListener } from 'node:http';
import type { GatewayRuntime } from '@graphql-hive/gateway-runtime';
import type { PlatformMetrics } from '@somaagent/observability';
import type { SomaRouterContext } from '../plugins/useTokenVerification';
import type { ReadinessChecks } from './readiness';
import { readLimitedBody } from './readLimitedBody';

export interface RequestListenerOptions {
  gateway: GatewayRuntime<SomaRouterContext>;
  /** Request body bytes; larger bodies get 413. */
  maxBodyBytes: number;
  /** Internal JWKS re-served at `/.well-known/jwks.json`; without it that path is 404. */
  jwksUpstreamUrl?: string | undefined;
  /** `http://host:port` once the server listens ('' before). */
  selfOrigin: () => string;
  /** HTTP requests counted and timed by route and status. */
  metrics?: PlatformMetrics | undefined;
  /** What `/readyz` checks. */
  readiness: ReadinessChecks;
}

/**
 * The router's node:http layer in front of the gateway: /healthz, the public JWKS, 404 off
 * /graphql, the body limit (413) and UTF-8 check, and the body handed to the gateway parsed.
 */
export function createRequestListener(options: RequestListenerOptions): RequestListener {
  const { gateway, maxBodyBytes, jwksUpstreamUrl } = options;
  const { metrics } = options;
  return async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', options.selfOrigin() || 'http://router');
      if (metrics) {
        const route = metrics.routeLabel(url.pathname);
        const stop = metrics.httpDuration.startTimer({ route });
        res.once('finish', () => {
          stop();
          metrics.httpRequests.inc({ route, status: String(res.statusCode) });
        });
      }
      if (req.method === 'GET' && url.pathname === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
        return;
      }
      if (req.method === 'GET' && url.pathname === '/readyz') {
        const report = await options.readiness.run();
        res
          .writeHead(report.ready ? 200 : 503, {
            'content-type': 'application/json',
            'cache-control': 'no-store',
          })
          .end(JSON.stringify(report));
        return;
      }
      if (req.method === 'GET' && url.pathname === '/.well-known/jwks.json' && jwksUpstreamUrl) {
        const upstream = await fetch(jwksUpstreamUrl);
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
      const body = await readLimitedBody(req, maxBodyBytes);
      if (body === 'aborted') return;
      if (body === 'too-large') {
        res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
        res.end(
          JSON.stringify({
            errors: [
              {
                message: `request body exceeds ${maxBodyBytes} bytes`,
                extensions: { code: 'PAYLOAD_TOO_LARGE', limit: maxBodyBytes },
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
  };
}

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
