import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Pending connections the kernel may hold while the event loop is busy (Node's default is 511). */
const LISTEN_BACKLOG = 4096;

/**
 * Listens the way every SomaAgent GraphQL server does (the router and each subgraph): a deep
 * backlog, and keep-alive sockets the CLIENT closes first. Node's agent and undici drop idle
 * sockets after 4–5 s; with the server's own 5 s default both sides close at once, and a request
 * sent on a socket the server is closing fails with ECONNRESET (seen in bench/sessions when
 * 1,000 sessions started right after a quieter phase).
 */
export async function listenHttp(http: Server, port: number, host: string): Promise<AddressInfo> {
  http.keepAliveTimeout = 65_000;
  http.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, LISTEN_BACKLOG, () => resolve());
  });
  return http.address() as AddressInfo;
}
