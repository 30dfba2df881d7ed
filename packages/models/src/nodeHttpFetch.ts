import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';

export interface NodeHttpFetchOptions {
  /** Called once a request (headers and body) has been handed to its socket (bench/sessions marks it). */
  onRequestWritten?: (headers: Headers) => void;
}

/** A server that closes the connection this soon after an answer ended closes it after every answer. */
const CLOSED_AFTER_ANSWER_MS = 50;

/**
 * A `fetch` for the `openai` client over node:http(s), for the few request shapes that client
 * sends (a URL and a string or byte body); anything else goes to the global fetch.
 *
 * Why not the global fetch: its spec layers (Request/Headers objects, web streams) cost ~0.9 ms
 * p50 and ~1.5–2 ms p95 of the event loop between the call and the request on the wire
 * (bench/sessions trace), on the time-to-first-token path of every answer; node:http writes it
 * in ~0.3 ms. The answer still comes back as a standard `Response`.
 *
 * Connections are kept alive (a TLS handshake per answer would cost far more than any of this),
 * unless the server turns out to close every connection right after an answer, as llama.cpp's
 * llama-server does after each streamed one: reusing such connections only races their close,
 * so from then on every request gets its own.
 */
export function createNodeHttpFetch(options: NodeHttpFetchOptions = {}): typeof fetch {
  const agents = {
    'http:': new http.Agent({ keepAlive: true }),
    'https:': new https.Agent({ keepAlive: true }),
  };
  let reuseConnections = true;

  const nodeFetch = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const body = init.body;
    const simpleBody =
      body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
    if (input instanceof Request || !simpleBody) return fetch(input, init);
    const url = input instanceof URL ? input : new URL(input);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return fetch(input, init);
    const headers = new Headers(init.headers);
    const outgoing: Record<string, string> = {};
    headers.forEach((value, key) => {
      outgoing[key] = value;
    });
    if (body !== undefined && body !== null)
      outgoing['content-length'] = String(
        typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
      );

    return new Promise<Response>((resolve, reject) => {
      const signal = init.signal ?? undefined;
      if (signal?.aborted) {
        reject(signal.reason ?? new DOMException('This operation was aborted', 'AbortError'));
        return;
      }
      const request = (url.protocol === 'https:' ? https : http).request(url, {
        method: init.method ?? 'GET',
        headers: outgoing,
        agent: reuseConnections ? agents[url.protocol as 'http:' | 'https:'] : false,
      });
      const onAbort = () => {
        const reason = signal?.reason ?? new DOMException('This operation was aborted', 'AbortError');
        request.destroy(reason instanceof Error ? reason : new DOMException(String(reason), 'AbortError'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      request.once('error', (error) => {
        done();
        reject(error);
      });
      request.once('finish', () => options.onRequestWritten?.(headers));
      request.once('response', (response) => {
        const responseHeaders = new Headers();
        for (const [key, value] of Object.entries(response.headers)) {
          if (typeof value === 'string') responseHeaders.set(key, value);
          else if (Array.isArray(value)) for (const v of value) responseHeaders.append(key, v);
        }
        const socket = response.socket as Socket | null;
        response.once('end', () => {
          done();
          if (!reuseConnections || !socket) return;
          const endedAt = Date.now();
          socket.once('close', () => {
            if (Date.now() - endedAt < CLOSED_AFTER_ANSWER_MS) reuseConnections = false;
          });
        });
        response.once('error', done);
        response.once('close', done);
        const status = response.statusCode ?? 502;
        // A null-body status must not be given a body (the Response constructor refuses it).
        const nullBody = status === 204 || status === 205 || status === 304 || init.method === 'HEAD';
        if (nullBody) response.resume();
        resolve(
          // Node's Response takes an async iterable body (typed as BodyInit only for web streams).
          new Response(nullBody ? null : (response as unknown as BodyInit), {
            status,
            statusText: response.statusMessage ?? '',
            headers: responseHeaders,
          }),
        );
      });
      request.end(body ?? undefined);
    });
  };
  return nodeFetch as typeof fetch;
}
