import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { type ClientAddresses, normaliseAddress } from './clientAddress';

/**
 * Caps the TCP connections one peer address holds open at once (HTTP keep-alive and WebSocket
 * alike). A connection over the cap is answered `429 RATE_LIMITED` and closed before any byte of
 * it is parsed, so one host cannot hold every socket of the router. `max` 0 turns it off.
 * A trusted proxy (`trustedProxies`) carries many clients' connections, so it is not capped here:
 * cap connections per client at the proxy.
 */
export function limitConnectionsPerIp(
  http: Server,
  max: number,
  clients: ClientAddresses,
  /** Told of every connection refused (metrics). */
  onRefused: () => void = () => {},
): { openFrom(ip: string): number } {
  const open = new Map<string, number>();
  if (max > 0) {
    http.on('connection', (socket: Socket) => {
      const ip = normaliseAddress(socket.remoteAddress ?? '');
      if (clients.isTrustedProxy(ip)) return;
      const count = open.get(ip) ?? 0;
      if (count >= max) {
        onRefused();
        const body = JSON.stringify({
          errors: [
            {
              message: `at most ${max} concurrent connections per client address; close one or reuse a keep-alive connection`,
              extensions: { code: 'RATE_LIMITED', limit: max, retryAfter: 1 },
            },
          ],
        });
        // Paused: nothing it sends is read, so no request on it ever reaches the handler.
        socket.pause();
        socket.end(
          `HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
        socket.destroySoon();
        return;
      }
      open.set(ip, count + 1);
      socket.once('close', () => {
        const left = (open.get(ip) ?? 1) - 1;
        if (left <= 0) open.delete(ip);
        else open.set(ip, left);
      });
    });
  }
  return { openFrom: (ip) => open.get(ip) ?? 0 };
}
