import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../support/platform';

let t: TestPlatform;
let tenant: Awaited<ReturnType<TestPlatform['createTenant']>>;

beforeAll(async () => {
  t = await startTestPlatform({ accessTokenTtlSeconds: 120 });
  tenant = await t.createTenant('gamma');
});
afterAll(async () => {
  await t?.[Symbol.asyncDispose]();
});

const userCount = async () =>
  (await t.gql('{ users { totalCount } }', {}, tenant.adminToken)).data.users.totalCount as number;
const createUser = (email: string, token = tenant.adminToken) =>
  t.gql(
    'mutation($i: CreateUserInput!) { createUser(input: $i) { id email } }',
    { i: { email, displayName: 'Someone', password: 'long-enough-password' } },
    token,
  );
const exchange = (secret: string) =>
  t.gql('mutation($s: String!) { exchangeApiKey(secret: $s) { accessToken expiresIn } }', { s: secret });

describe('API keys: random, hashed, shown once, scoped, revocable', () => {
  it('a key is shown once, exchanges for a token limited to its capabilities', async () => {
    const created = await t.gql(
      'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { id prefix capabilities } secret } }',
      { i: { name: 'reader', capabilities: ['identity:users:read'] } },
      tenant.adminToken,
    );
    expect(created.errors).toBeUndefined();
    const { secret, apiKey } = created.data.createApiKey;
    expect(secret).toMatch(/^sk_/);
    // Listing never shows the secret again.
    const listed = await t.gql('{ apiKeys { edges { node { id prefix } } } }', {}, tenant.adminToken);
    expect(JSON.stringify(listed.data)).not.toContain(secret);
    // Stored hashed: the secret's random part is nowhere in the table.
    const stored = await t.db.asOwner((tx) =>
      tx.query('SELECT * FROM identity.api_keys WHERE id = $1', [apiKey.id]),
    );
    // The random part: everything after the third '_' (base64url may itself contain '_').
    expect(JSON.stringify(stored.rows)).not.toContain(secret.split('_').slice(3).join('_'));

    const token = (await exchange(secret)).data.exchangeApiKey.accessToken;
    expect((await t.gql('{ users { totalCount } }', {}, token)).errors).toBeUndefined();
    const denied = await createUser('x@gamma.test', token);
    expect(denied.code).toBe('FORBIDDEN');
    expect(denied.errors?.[0]?.message).toMatch(/identity:users:write/);
  });

  it('a revoked key no longer exchanges (UNAUTHENTICATED) and nothing else changes', async () => {
    const created = await t.gql(
      'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { id } secret } }',
      { i: { name: 'to-revoke', capabilities: ['identity:users:read'] } },
      tenant.adminToken,
    );
    const { secret, apiKey } = created.data.createApiKey;
    const before = await userCount();
    const revoked = await t.gql(
      'mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }',
      { id: apiKey.id },
      tenant.adminToken,
    );
    expect(revoked.data.revokeApiKey.revokedAt).toBeTruthy();
    const r = await exchange(secret);
    expect(r.code).toBe('UNAUTHENTICATED');
    expect(r.data).toBeNull();
    expect(await userCount()).toBe(before);
  });
});

describe('bad input: clear codes, nothing stored changes', () => {
  it('duplicate user email in a tenant → CONFLICT', async () => {
    expect((await createUser('dup@gamma.test')).errors).toBeUndefined();
    const before = await userCount();
    const r = await createUser('DUP@gamma.test');
    expect(r.code).toBe('CONFLICT');
    expect(await userCount()).toBe(before);
  });

  it('invalid email → BAD_USER_INPUT naming the field', async () => {
    const before = await userCount();
    const r = await createUser('not-an-email');
    expect(r.code).toBe('BAD_USER_INPUT');
    expect(r.errors?.[0]?.message).toMatch(/email/i);
    expect(await userCount()).toBe(before);
  });

  it('wrong password → UNAUTHENTICATED with one generic message', async () => {
    const r = await t.gql('mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }', {
      i: { tenantSlug: 'gamma', email: tenant.adminEmail, password: 'wrong-password-here' },
    });
    expect(r.code).toBe('UNAUTHENTICATED');
    const unknownTenant = await t.gql('mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }', {
      i: { tenantSlug: 'nope', email: tenant.adminEmail, password: 'wrong-password-here' },
    });
    expect(unknownTenant.errors?.[0]?.message).toBe(r.errors?.[0]?.message);
  });
});

describe('signing keys: JWKS at a well-known path, rotation without downtime', () => {
  it('tokens issued before a rotation keep working; new tokens carry the new kid', async () => {
    const jwksUrl = t.platform.url.replace(/\/graphql$/, '/.well-known/jwks.json');
    const oldToken = tenant.adminToken;
    const oldKid = decodeProtectedHeader(oldToken).kid;

    const rotated = await t.gql('mutation { rotateSigningKey { kid } }', {}, await t.platformToken());
    expect(rotated.errors).toBeUndefined();
    const newKid = rotated.data.rotateSigningKey.kid;
    expect(newKid).not.toBe(oldKid);

    const jwks = (await (await fetch(jwksUrl)).json()) as { keys: { kid: string; d?: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([oldKid, newKid]));
    for (const key of jwks.keys) expect(key.d).toBeUndefined();
    // At rest the private halves are sealed (AES-256-GCM), never plain JWKs.
    const stored = await t.db.asOwner((tx) =>
      tx.query<{ private_jwk: Record<string, unknown> }>('SELECT private_jwk FROM identity.signing_keys'),
    );
    expect(stored.rows.length).toBeGreaterThanOrEqual(3);
    for (const row of stored.rows) {
      expect(row.private_jwk.enc).toBe('A256GCM');
      expect(row.private_jwk.d).toBeUndefined();
    }

    // The old token still passes the router (its kid is still published)...
    expect((await t.gql('{ viewer { subject } }', {}, oldToken)).data.viewer.subject).toBe(tenant.adminId);
    // ...and a fresh sign-in is signed with the new key, verifiable from the public JWKS.
    const fresh = await t.gql('mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }', {
      i: { tenantSlug: 'gamma', email: tenant.adminEmail, password: 'correct horse battery staple' },
    });
    const token = fresh.data.signIn.accessToken;
    expect(decodeProtectedHeader(token).kid).toBe(newKid);
    await jwtVerify(token, createLocalJWKSet(jwks as never), {
      issuer: 'http://somaagent.test',
      audience: 'somaagent',
    });
    expect((await t.gql('{ viewer { subject } }', {}, token)).data.viewer.subject).toBe(tenant.adminId);
  });

  it('only a platform administrator can rotate', async () => {
    const r = await t.gql('mutation { rotateSigningKey { kid } }', {}, tenant.adminToken);
    expect(r.code).toBe('FORBIDDEN');
  });
});

describe('a mutation with a bad token changes nothing', () => {
  it('expired, foreign-issuer, alg:none and tampered tokens are refused before any subgraph runs', async () => {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const [header, payload, signature] = tenant.adminToken.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const bad = {
      expired: `${header}.${b64({ ...claims, exp: Math.floor(Date.now() / 1000) - 600 })}.${signature}`,
      tampered: `${header}.${b64({ ...claims, sub: '00000000-0000-4000-8000-000000000000' })}.${signature}`,
      algNone: `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`,
      foreignIssuer: `${header}.${b64({ ...claims, iss: 'https://evil.example' })}.${signature}`,
    };
    const before = await userCount();
    for (const [name, token] of Object.entries(bad)) {
      const r = await createUser(`${name.toLowerCase()}@gamma.test`, token);
      expect([name, r.status, r.code]).toEqual([name, 401, 'UNAUTHENTICATED']);
    }
    expect(await userCount()).toBe(before);
  });
});
