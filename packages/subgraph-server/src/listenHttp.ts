import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Pending connections the kernel may hold while the event loop is busy (Node's default is 511). */
const LISTEN_BACKLOG = 4096;

export interface ListenHttpOptions {
  /**
   * A request whose headers have not all arrived this long after its first byte (or after the
   * connection opened) is answered 408 and its socket closed. Idle keep-alive sockets are not
   * affected: they wait for the keep-alive timeout.
   * @default 66_000
   */
  headersTimeoutMs?: number;
  /** The same for the whole request, body included. 0: none. @default 300_000 (Node's) */
  requestTimeoutMs?: number;
}

/**
 * Listens the way every SomaAgent GraphQL server does (the router and each subgraph): a deep
 * backlog, and keep-alive sockets the CLIENT closes first. Node's agent and undici drop idle
 * sockets after 4–5 s; with the server's own 5 s default both sides close at once, and a request
 * sent on a socket the server is closing fails with ECONNRESET (seen in bench/sessions when
 * 1,000 sessions started right after a quieter phase).
 */
export async function listenHttp(
  http: Server,
  port: number,
  host: string,
  options: ListenHttpOptions = {},
): Promise<AddressInfo> {
  http.keepAliveTimeout = 65_000;
  http.headersTimeout = options.headersTimeoutMs ?? 66_000;
  if (options.requestTimeoutMs !== undefined) http.requestTimeout = options.requestTimeoutMs;
  // Node checks both timeouts on this interval (30 s by default), read when listening starts: a
  // short timeout would otherwise be enforced up to 30 s late.
  const shortest = Math.min(http.headersTimeout, http.requestTimeout || Number.POSITIVE_INFINITY);
  (http as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.max(
    100,
    Math.min(1000, Math.floor(shortest / 4)),
  );
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, LISTEN_BACKLOG, () => resolve());
  });
  return http.address() as AddressInfo;
}
