import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/** How the router tells which client sent a request (per-IP budgets, sign-in throttling). */
export interface ClientAddresses {
  /** The client's address: the TCP peer, or what a trusted proxy in front of it says in X-Forwarded-For. */
  of(req: IncomingMessage | undefined): string;
  /** Whether a TCP peer is a trusted proxy (its connections are many clients': no per-IP connection cap). */
  isTrustedProxy(address: string): boolean;
}

/** Entries of X-Forwarded-For looked at, from the right; a longer header adds nothing we trust. */
const MAX_FORWARDED_HOPS = 16;

/** `::ffff:10.0.0.1` and `10.0.0.1` are one client. */
export const normaliseAddress = (address: string) =>
  address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;

/**
 * @param trustedProxies addresses or CIDR blocks (`10.0.0.0/8`, `fd00::/8`, `127.0.0.1`) of the
 * reverse proxies / load balancers in front of the router. Only when the TCP peer is one of them
 * is X-Forwarded-For read: from the right, skipping trusted hops, the first other address is the
 * client. Anyone else's X-Forwarded-For is ignored, so a client cannot choose its own budget.
 */
export function createClientAddresses(trustedProxies: readonly string[] = []): ClientAddresses {
  const trusted = new BlockList();
  for (const entry of trustedProxies) {
    const [address = '', prefix] = entry.trim().split('/');
    const family = isIP(address);
    const bits = prefix === undefined ? undefined : Number(prefix);
    if (
      family === 0 ||
      (bits !== undefined && (!Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)))
    ) {
      throw new RangeError(`trustedProxies: "${entry}" is not an IP address or CIDR block`);
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) trusted.addAddress(address, type);
    else trusted.addSubnet(address, bits, type);
  }
  const any = trustedProxies.length > 0;
  const isTrustedProxy = (address: string) => {
    if (!any) return false;
    const normalised = normaliseAddress(address);
    const family = isIP(normalised);
    return family !== 0 && trusted.check(normalised, family === 4 ? 'ipv4' : 'ipv6');
  };
  return {
    isTrustedProxy,
    of(req) {
      const peer = normaliseAddress(req?.socket?.remoteAddress ?? 'unknown');
      if (!isTrustedProxy(peer)) return peer;
      const header = req?.headers['x-forwarded-for'];
      const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
        .split(',')
        .map((hop) => normaliseAddress(hop.trim()))
        .slice(-MAX_FORWARDED_HOPS);
      let client = peer;
      for (let i = hops.length - 1; i >= 0; i--) {
        const hop = hops[i]!;
        // A malformed hop ends the trusted chain: what is left of it cannot be believed.
        if (isIP(hop) === 0) break;
        client = hop;
        if (!isTrustedProxy(hop)) break;
      }
      return client;
    },
  };
}
