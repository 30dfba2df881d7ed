import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWTHeaderParameters, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier, type TokenVerifier } from '../src/auth/createTokenVerifier';
import { boundCapabilities, oidcClaims } from '../src/auth/oidcClaims';

// Token hygiene (issue 14 item 9) and tenant binding (item 1) in the verifier itself, against a
// real ES256 key whose public half a loopback JWKS server publishes.
const ISSUER = 'urn:soma:hygiene';
const TENANT = '11111111-1111-4111-8111-111111111111';
const now = () => Math.floor(Date.now() / 1000);
let server: Server;
let sign: (payload: JWTPayload, header?: Partial<JWTHeaderParameters>) => Promise<string>;
let verifier: TokenVerifier;

beforeAll(async () => {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
  server = createServer((_req, res) => res.end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  sign = (payload, header = {}) =>
    new SignJWT({ iss: ISSUER, aud: 'somaagent', sub: 'u1', ...payload })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt', ...header })
      .sign(privateKey);
  verifier = createTokenVerifier(
    [
      {
        issuer: ISSUER,
        audience: 'somaagent',
        jwksUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`,
        typ: 'at+jwt',
        maxTokenLifetimeSeconds: 3600,
        toClaims: oidcClaims({ tenants: [{ tenantId: TENANT, allowedCapabilities: ['a'] }] }),
      },
    ],
    { reuseVerifiedForMs: 0 },
  );
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const refused = async (token: Promise<string>, message: RegExp) => {
  const error = await verifier.verify(await token).then(
    () => undefined,
    (e: unknown) => e as { code?: string; message: string },
  );
  expect(error?.code).toBe('UNAUTHENTICATED');
  expect(error?.message).toMatch(message);
};

describe('token hygiene', () => {
  it('accepts a well-formed token (typ at+jwt, or application/at+jwt)', async () => {
    const claims = await verifier.verify(await sign({ iat: now(), exp: now() + 600 }));
    expect(claims).toMatchObject({ tenantId: TENANT, subject: `oidc:${ISSUER}#u1`, authMethod: 'oidc' });
    await expect(
      verifier.verify(await sign({ iat: now(), exp: now() + 600 }, { typ: 'application/AT+JWT' })),
    ).resolves.toBeTruthy();
  });
  it('requires exp', () => refused(sign({ iat: now() }), /exp/));
  it('refuses a typ other than the issuer sets', async () => {
    await refused(sign({ iat: now(), exp: now() + 60 }, { typ: 'JWT' }), /typ/);
    await refused(sign({ iat: now(), exp: now() + 60 }, { typ: undefined }), /typ/);
  });
  it('refuses a lifetime over the maximum, with and without iat', async () => {
    await refused(sign({ iat: now(), exp: now() + 3601 }), /lifetime/);
    await refused(sign({ exp: now() + 7200 }), /lifetime/);
    await expect(verifier.verify(await sign({ exp: now() + 1800 }))).resolves.toBeTruthy();
  });
  it('refuses iat in the future beyond the clock tolerance, accepts it within', async () => {
    await refused(sign({ iat: now() + 60, exp: now() + 600 }), /future/);
    await expect(verifier.verify(await sign({ iat: now() + 3, exp: now() + 600 }))).resolves.toBeTruthy();
  });
  it('defaults the maximum lifetime to 24 h and rejects a bad setting', async () => {
    const lenient = createTokenVerifier([
      {
        issuer: ISSUER,
        audience: 'somaagent',
        jwksUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`,
        toClaims: oidcClaims({ tenants: [{ tenantId: TENANT, allowedCapabilities: [] }] }),
      },
    ]);
    await expect(lenient.verify(await sign({ iat: now(), exp: now() + 86_400 }))).resolves.toBeTruthy();
    await expect(lenient.verify(await sign({ iat: now(), exp: now() + 86_401 }))).rejects.toThrow(/lifetime/);
    expect(() =>
      createTokenVerifier([
        { issuer: 'x', audience: 'y', maxTokenLifetimeSeconds: 0, toClaims: () => ({}) as never },
      ]),
    ).toThrow(RangeError);
  });
});

describe('oidcClaims tenant binding', () => {
  const map = oidcClaims({
    tenants: [
      { tenantId: TENANT, claimValue: 'acme', allowedCapabilities: ['x:read', 'x:write'] },
      { tenantId: '22222222-2222-4222-8222-222222222222', allowedCapabilities: ['*'] },
    ],
    scopeCapabilities: { 'soma:all': ['*'] },
  });
  const base = { sub: 's', exp: now() + 60 };
  it('maps a bound tenant, intersecting scope capabilities with its allowlist', async () => {
    await expect(
      map({ ...base, soma_tenant: 'acme', scope: 'openid soma:x:read soma:y:read' }, 'iss'),
    ).resolves.toMatchObject({
      tenantId: TENANT,
      capabilities: ['x:read'],
      roles: [],
      subject: 'oidc:iss#s',
    });
    expect((await map({ ...base, soma_tenant: 'acme', scope: 'soma:all' }, 'iss')).capabilities).toEqual([
      'x:read',
      'x:write',
    ]);
    expect(
      (await map({ ...base, soma_tenant: '22222222-2222-4222-8222-222222222222', scope: 'soma:*' }, 'iss'))
        .capabilities,
    ).toEqual(['*']);
  });
  it('refuses a binding with roles when no role directory is lent (the router cannot resolve them)', async () => {
    const withRoles = oidcClaims({
      tenants: [{ tenantId: TENANT, allowedCapabilities: ['*'], roles: ['member'] }],
    });
    await expect(withRoles({ ...base }, 'iss')).rejects.toThrow(/role directory/);
  });
  it.each([
    42,
    ['acme'],
    { a: 1 },
    '',
    'x'.repeat(256),
    'globex',
    TENANT, // bound under its claim value, not its id
  ])('refuses tenant claim %j with UNAUTHENTICATED', async (soma_tenant) => {
    await expect(map({ ...base, soma_tenant }, 'iss')).rejects.toThrow(
      expect.objectContaining({ code: 'UNAUTHENTICATED' }) as unknown as Error,
    );
  });
  it('needs a tenant claim when several tenants are bound, and a usable sub', async () => {
    await expect(map({ ...base }, 'iss')).rejects.toThrow(/names no tenant/);
    await expect(map({ exp: 1, soma_tenant: 'acme', sub: 'y'.repeat(300) }, 'iss')).rejects.toThrow(/sub/);
  });
  it('refuses a configuration without tenants, or binding one value twice', () => {
    expect(() => oidcClaims({ tenants: [] })).toThrow(RangeError);
    expect(() =>
      oidcClaims({
        tenants: [
          { tenantId: TENANT, allowedCapabilities: [] },
          { tenantId: TENANT, allowedCapabilities: [] },
        ],
      }),
    ).toThrow(/twice/);
  });
  it('boundCapabilities: "*" on either side means what the other side names', () => {
    expect(boundCapabilities(['*'], ['b', 'a'])).toEqual(['a', 'b']);
    expect(boundCapabilities(['b', 'a'], ['*'])).toEqual(['a', 'b']);
    expect(boundCapabilities(['a', 'c'], ['a', 'b'])).toEqual(['a']);
    expect(boundCapabilities(['*'], [])).toEqual([]);
  });
});
