import { describe, expect, it } from 'vitest';
import { createClientAddresses } from '../src/server/clientAddress';

describe('trusted proxies', () => {
  it.each(['10.0.0.0/33', 'fd00::/129', 'proxy.internal', '10.0.0.1/x', '', '1.2.3'])(
    'refuses %j as a trusted proxy entry',
    (entry) => {
      expect(() => createClientAddresses([entry])).toThrow(RangeError);
    },
  );
  it('matches addresses, CIDR blocks and IPv4-mapped IPv6 peers', () => {
    const clients = createClientAddresses(['10.0.0.0/8', '::1', '192.0.2.7']);
    expect(['10.1.2.3', '::ffff:10.9.9.9', '::1', '192.0.2.7'].map(clients.isTrustedProxy)).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(['11.0.0.1', '192.0.2.8', '::2', 'unknown'].map(clients.isTrustedProxy)).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect(createClientAddresses().isTrustedProxy('127.0.0.1')).toBe(false);
  });
});
