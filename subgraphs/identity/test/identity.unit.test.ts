import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { apiKeyPrefix, generateApiKeySecret, hashApiKeySecret, parseApiKeySecret } from '../src/apiKeySecret';
import { missingCapabilities, unionCapabilities } from '../src/capabilities';
import { claimsFromAccessTokenPayload } from '../src/claimsFromAccessTokenPayload';
import { decodeCursor, encodeCursor, pageArgs } from '../src/pagination';
import { hashPassword, verifyPassword } from '../src/passwords';
import { normaliseEmail } from '../src/validation';

describe('claimsFromAccessTokenPayload', () => {
  const base = { sub: 'u1', iss: 'http://issuer', exp: 2_000_000_000, aud: 'somaagent' };

  it('maps a tenant token', () => {
    expect(
      claimsFromAccessTokenPayload({
        ...base,
        tid: 't1',
        roles: ['admin'],
        caps: ['*'],
        pa: false,
        amr: 'password',
      }),
    ).toEqual({
      subject: 'u1',
      tenantId: 't1',
      roles: ['admin'],
      capabilities: ['*'],
      platformAdmin: false,
      issuer: 'http://issuer',
      expiresAt: 2_000_000_000,
      authMethod: 'password',
    });
  });

  it('maps a platform-admin token without tenant, and an RFC 8176 amr array', () => {
    const claims = claimsFromAccessTokenPayload({
      ...base,
      pa: true,
      amr: ['platform_key'],
      roles: [],
      caps: [],
    });
    expect(claims).toMatchObject({ tenantId: null, platformAdmin: true, authMethod: 'platform_key' });
  });

  it('given the protected header, accepts only typ at+jwt (any case, application/ optional)', () => {
    const payload = { ...base, tid: 't1', amr: 'password', roles: [], caps: [] };
    for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt']) {
      expect(claimsFromAccessTokenPayload(payload, 'http://issuer', { alg: 'ES256', typ }).tenantId).toBe(
        't1',
      );
    }
    for (const typ of ['JWT', 'id_token+jwt', undefined]) {
      expect(() => claimsFromAccessTokenPayload(payload, 'http://issuer', { alg: 'ES256', typ })).toThrow(
        /typ/,
      );
    }
  });

  it('rejects payloads this platform does not issue', () => {
    expect(() => claimsFromAccessTokenPayload({ ...base, amr: 'password', roles: [], caps: [] })).toThrow(
      /tid/,
    );
    expect(() => claimsFromAccessTokenPayload({ ...base, tid: 't', amr: 'magic' })).toThrow(/amr/);
    expect(() => claimsFromAccessTokenPayload({ ...base, tid: 't', amr: 'api_key', caps: 'x' })).toThrow(
      /caps/,
    );
    expect(() => claimsFromAccessTokenPayload({ iss: 'x', exp: 1, tid: 't', amr: 'api_key' })).toThrow(/sub/);
  });
});

describe('API key secrets', () => {
  it('carry tenant and key ids in clear and 256 random bits', () => {
    const tenantId = randomUUID();
    const keyId = randomUUID();
    const secret = generateApiKeySecret(tenantId, keyId);
    expect(parseApiKeySecret(secret)).toEqual({ tenantId, keyId });
    expect(secret.startsWith(`sk_${tenantId.replaceAll('-', '')}_${keyId.replaceAll('-', '')}_`)).toBe(true);
    expect(generateApiKeySecret(tenantId, keyId)).not.toBe(secret);
    expect(hashApiKeySecret(secret)).toMatch(/^[0-9a-f]{64}$/);
    expect(apiKeyPrefix(keyId)).toBe(`sk_${keyId.slice(0, 8)}`);
  });

  it('refuse anything else', () => {
    for (const bad of ['', 'sk_', 'sk_zz_yy_xx', `sk_${'a'.repeat(32)}_${'b'.repeat(32)}_short`]) {
      expect(parseApiKeySecret(bad)).toBeNull();
    }
  });
});

describe('passwords', () => {
  it('hash with a random salt and verify in constant time', async () => {
    const a = await hashPassword('correct horse battery staple');
    const b = await hashPassword('correct horse battery staple');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(await verifyPassword('correct horse battery staple', a)).toBe(true);
    expect(await verifyPassword('correct horse battery stapl', a)).toBe(false);
    expect(await verifyPassword('x', 'not-a-hash')).toBe(false);
    expect(await verifyPassword('x', 'scrypt$99999999$8$1$AA$AA')).toBe(false);
  });
});

describe('pagination arguments', () => {
  it('round-trips cursors with microsecond timestamps', () => {
    const cursor = { createdAt: '2026-01-02T03:04:05.123456+00:00', id: randomUUID() };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
  });

  it('defaults to 20 and refuses sizes outside 0..100 and foreign cursors', () => {
    expect(pageArgs({})).toEqual({ first: 20, after: null });
    expect(() => pageArgs({ first: 101 })).toThrow(/between 0 and 100/);
    expect(() => pageArgs({ after: Buffer.from('["x","y"]').toString('base64url') })).toThrow(/cursor/);
  });
});

describe('capabilities and emails', () => {
  it("treats '*' as covering everything", () => {
    expect(missingCapabilities(['*'], ['identity:users:write'])).toEqual([]);
    expect(
      missingCapabilities(['identity:users:read'], ['identity:users:read', 'identity:users:write']),
    ).toEqual(['identity:users:write']);
    expect(unionCapabilities([['b', 'a'], ['a']])).toEqual(['a', 'b']);
    expect(unionCapabilities([['a'], ['*']])).toEqual(['*']);
  });

  it('lowercases emails and names the field when invalid', () => {
    expect(normaliseEmail('  Ada@Example.COM ', 'email')).toBe('ada@example.com');
    expect(() => normaliseEmail('ada@localhost', 'adminEmail')).toThrow(/adminEmail/);
  });
});
