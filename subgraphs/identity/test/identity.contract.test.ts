/**
 * The identity subgraph's contract: the same assertions against embedded PostgreSQL (PGlite)
 * and the harness's real PostgreSQL server, driven over real HTTP / graphql-ws with router
 * envelopes, tokens verified against the JWKS route exactly as the router verifies them.
 */
import { InProcessEventBus } from '@somaagent/events';
import { signRouterEnvelope, type VerifiedClaims } from '@somaagent/internal-auth';
import type { SqlDatabase } from '@somaagent/ports';
import { PgliteSqlDatabase } from '@somaagent/postgres';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../tests/support/postgres';
import { createIdentitySubgraph, identityMigrations, JWKS_PATH } from '../src/index';
import {
  AUDIENCE,
  codeOf,
  type IdentityHarness,
  ISSUER,
  type Loose,
  PLATFORM_KEY,
  ROUTER_SECRET,
  startIdentity,
} from './harness';

type DatabaseFactory = () => Promise<SqlDatabase>;
const openPglite: DatabaseFactory = () => PgliteSqlDatabase.open();
const openPostgres: DatabaseFactory = () => createTestDatabase();

const PASSWORD = 'correct horse battery staple';
let slugCounter = 0;
const uniqueSlug = (label: string) => `${label}-${process.pid}-${Date.now().toString(36)}-${++slugCounter}`;

const CREATE_TENANT = `mutation($input: CreateTenantInput!) {
  createTenant(input: $input) { tenant { id slug name } admin { id email displayName roles { name } capabilities } }
}`;
const SIGN_IN = `mutation($input: SignInInput!) { signIn(input: $input) { accessToken tokenType expiresIn expiresAt } }`;
const EXCHANGE = `mutation($secret: String!) { exchangeApiKey(secret: $secret) { accessToken expiresIn } }`;
const CREATE_USER = `mutation($input: CreateUserInput!) {
  createUser(input: $input) { id email displayName roles { name } capabilities createdAt }
}`;
const CREATE_ROLE = `mutation($input: CreateRoleInput!) { createRole(input: $input) { id name capabilities builtin } }`;
const ASSIGN_ROLE = `mutation($userId: ID!, $roleName: String!) {
  assignRole(userId: $userId, roleName: $roleName) { id roles { name } capabilities }
}`;
const CREATE_KEY = `mutation($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { secret apiKey { id name prefix capabilities createdAt lastUsedAt revokedAt } }
}`;
const REVOKE_KEY = `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`;
const USERS = `query($first: Int, $after: String) {
  users(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id email } } }
}`;
const API_KEYS = `query($first: Int, $after: String) {
  apiKeys(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id name prefix lastUsedAt revokedAt } }
  }
}`;
const ROLES = `query { roles(first: 100) { totalCount edges { node { id name capabilities builtin } } } }`;
const EVENTS = 'subscription { identityEvents { type tenantId subjectId actorId occurredAt } }';

describe.each([
  ['pglite', openPglite],
  ['postgres', openPostgres],
] as const)('identity subgraph on %s', (_adapter, openDatabase) => {
  let db: SqlDatabase;
  let h: IdentityHarness;
  let platform: VerifiedClaims;

  /** A fresh tenant and its signed-in admin. */
  async function newTenant(label: string) {
    const slug = uniqueSlug(label);
    const email = `admin@${label}.example`;
    const created = await h.gql(
      CREATE_TENANT,
      {
        input: {
          slug,
          name: `Tenant ${label}`,
          adminEmail: email,
          adminPassword: PASSWORD,
          adminDisplayName: 'Admin',
        },
      },
      platform,
    );
    expect(created.errors).toBeUndefined();
    const { tenant, admin } = created.data!.createTenant;
    const admin_ = await signIn(slug, email, PASSWORD);
    return { slug, tenant, admin, claims: admin_ };
  }

  async function signIn(tenantSlug: string, email: string, password: string): Promise<VerifiedClaims> {
    const r = await h.gql(SIGN_IN, { input: { tenantSlug, email, password } });
    expect(r.errors).toBeUndefined();
    return h.claimsFor(r.data!.signIn.accessToken);
  }

  async function createUser(claims: VerifiedClaims, email: string, roleNames?: string[]) {
    const r = await h.gql(
      CREATE_USER,
      { input: { email, displayName: email, password: PASSWORD, roleNames } },
      claims,
    );
    expect(r.errors).toBeUndefined();
    return r.data!.createUser as { id: string; email: string };
  }

  async function createKey(claims: VerifiedClaims, name: string, capabilities: string[]) {
    const r = await h.gql(CREATE_KEY, { input: { name, capabilities } }, claims);
    expect(r.errors).toBeUndefined();
    return r.data!.createApiKey as { secret: string; apiKey: { id: string; prefix: string } };
  }

  async function exchange(secret: string) {
    return h.gql(EXCHANGE, { secret });
  }

  beforeAll(async () => {
    db = await openDatabase();
    h = await startIdentity(db);
    const r = await exchange(PLATFORM_KEY);
    expect(r.errors).toBeUndefined();
    platform = await h.claimsFor(r.data!.exchangeApiKey.accessToken);
  });

  afterAll(async () => {
    await h?.[Symbol.asyncDispose]();
    await db?.[Symbol.asyncDispose]();
  });

  it('refuses operations that do not carry the router signature', async () => {
    const res = await fetch(h.server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ viewer { subject } }' }),
    });
    expect(res.status).toBe(401);
    // Signed with another secret: refused the same way.
    const query = '{ viewer { subject } }';
    const forged = await fetch(h.server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query,
        extensions: { somaRouter: signRouterEnvelope(`${ROUTER_SECRET}-not`, { query }, platform) },
      }),
    });
    expect(forged.status).toBe(401);
    expect((await h.gql(query, {}, platform)).data!.viewer.subject).toBe('platform-admin');
  });

  it('exchanges the platform admin key for a platform-admin token with no tenant', async () => {
    expect(platform).toMatchObject({
      subject: 'platform-admin',
      tenantId: null,
      platformAdmin: true,
      authMethod: 'platform_key',
      issuer: ISSUER,
    });
    const viewer = await h.gql('{ viewer { subject platformAdmin authMethod tenant { id } } }', {}, platform);
    expect(viewer.data!.viewer).toEqual({
      subject: 'platform-admin',
      platformAdmin: true,
      authMethod: 'PLATFORM_KEY',
      tenant: null,
    });
    expect((await h.gql('{ viewer { subject } }')).data!.viewer).toBeNull();
    // A wrong platform key is rejected like any bad secret.
    expect(codeOf(await exchange(`${PLATFORM_KEY}x`))).toBe('UNAUTHENTICATED');
  });

  it('lets only platform admins create tenants, with built-in roles and an admin', async () => {
    const input = {
      slug: uniqueSlug('acme'),
      name: 'Acme',
      adminEmail: 'Boss@Acme.Example',
      adminPassword: PASSWORD,
      adminDisplayName: 'Boss',
    };
    expect(codeOf(await h.gql(CREATE_TENANT, { input }))).toBe('UNAUTHENTICATED');
    const other = await newTenant('other');
    const forbidden = await h.gql(CREATE_TENANT, { input }, other.claims);
    expect(codeOf(forbidden)).toBe('FORBIDDEN');

    const created = await h.gql(CREATE_TENANT, { input }, platform);
    expect(created.errors).toBeUndefined();
    expect(created.data!.createTenant.admin).toMatchObject({
      email: 'boss@acme.example',
      roles: [{ name: 'admin' }],
      capabilities: ['*'],
    });
    const admin = await signIn(input.slug, 'BOSS@acme.example', PASSWORD);
    expect(admin).toMatchObject({
      tenantId: created.data!.createTenant.tenant.id,
      subject: created.data!.createTenant.admin.id,
      roles: ['admin'],
      capabilities: ['*'],
      platformAdmin: false,
      authMethod: 'password',
    });
    const roles = await h.gql(ROLES, {}, admin);
    expect(roles.data!.roles.edges.map((e: Loose) => [e.node.name, e.node.builtin]).sort()).toEqual([
      ['admin', true],
      ['member', true],
    ]);

    const duplicate = await h.gql(CREATE_TENANT, { input }, platform);
    expect(codeOf(duplicate)).toBe('CONFLICT');
    const badSlug = await h.gql(CREATE_TENANT, { input: { ...input, slug: 'Not A Slug' } }, platform);
    expect(codeOf(badSlug)).toBe('BAD_USER_INPUT');
    expect(badSlug.errors![0]!.extensions!.field).toBe('slug');
  });

  it('writes nothing when tenant creation input is bad', async () => {
    const slug = uniqueSlug('atomic');
    const base = { slug, name: 'Atomic', adminEmail: 'a@atomic.example', adminDisplayName: 'A' };
    const short = await h.gql(CREATE_TENANT, { input: { ...base, adminPassword: 'short' } }, platform);
    expect(codeOf(short)).toBe('BAD_USER_INPUT');
    expect(short.errors![0]!.extensions!.field).toBe('adminPassword');
    const email = await h.gql(
      CREATE_TENANT,
      { input: { ...base, adminEmail: 'nope', adminPassword: PASSWORD } },
      platform,
    );
    expect(codeOf(email)).toBe('BAD_USER_INPUT');
    expect(email.errors![0]!.extensions!.field).toBe('adminEmail');
    // The slug is still free: nothing was stored.
    const ok = await h.gql(CREATE_TENANT, { input: { ...base, adminPassword: PASSWORD } }, platform);
    expect(ok.errors).toBeUndefined();
  });

  it('rejects wrong sign-in data with one generic UNAUTHENTICATED message', async () => {
    const t = await newTenant('signin');
    const attempts = [
      { tenantSlug: t.slug, email: 'admin@signin.example', password: 'wrong password!!' },
      { tenantSlug: t.slug, email: 'nobody@signin.example', password: PASSWORD },
      { tenantSlug: uniqueSlug('missing'), email: 'admin@signin.example', password: PASSWORD },
      { tenantSlug: 'BAD SLUG', email: 'not-an-email', password: '' },
    ];
    const messages = new Set<string>();
    for (const input of attempts) {
      const r = await h.gql(SIGN_IN, { input });
      expect(codeOf(r)).toBe('UNAUTHENTICATED');
      messages.add(r.errors![0]!.message);
    }
    expect(messages.size).toBe(1);
  });

  it('validates users: bad email stores nothing, duplicate email conflicts, other tenants are independent', async () => {
    const a = await newTenant('usersa');
    const b = await newTenant('usersb');
    const before = (await h.gql(USERS, { first: 100 }, a.claims)).data!.users.totalCount;

    const bad = await h.gql(
      CREATE_USER,
      { input: { email: 'not an email', displayName: 'X', password: PASSWORD } },
      a.claims,
    );
    expect(codeOf(bad)).toBe('BAD_USER_INPUT');
    expect(bad.errors![0]!.extensions!.field).toBe('email');
    const short = await h.gql(
      CREATE_USER,
      { input: { email: 'short@x.example', displayName: 'X', password: 'too short' } },
      a.claims,
    );
    expect(codeOf(short)).toBe('BAD_USER_INPUT');
    expect(short.errors![0]!.message).toContain('12');
    const unknownRole = await h.gql(
      CREATE_USER,
      { input: { email: 'role@x.example', displayName: 'X', password: PASSWORD, roleNames: ['ghost'] } },
      a.claims,
    );
    expect(codeOf(unknownRole)).toBe('BAD_USER_INPUT');
    expect((await h.gql(USERS, { first: 100 }, a.claims)).data!.users.totalCount).toBe(before);

    const first = await createUser(a.claims, 'Dup@Example.com');
    expect(first.email).toBe('dup@example.com');
    const dup = await h.gql(
      CREATE_USER,
      { input: { email: 'dup@EXAMPLE.com', displayName: 'Again', password: PASSWORD } },
      a.claims,
    );
    expect(codeOf(dup)).toBe('CONFLICT');
    expect((await h.gql(USERS, { first: 100 }, a.claims)).data!.users.totalCount).toBe(before + 1);
    // The same address in another tenant is another person.
    await createUser(b.claims, 'dup@example.com');
  });

  it('gives new users the member role by default: read-only', async () => {
    const t = await newTenant('member');
    const created = await h.gql(
      CREATE_USER,
      { input: { email: 'm@member.example', displayName: 'M', password: PASSWORD } },
      t.claims,
    );
    expect(created.data!.createUser.roles).toEqual([{ name: 'member' }]);
    const member = await signIn(t.slug, 'm@member.example', PASSWORD);
    expect(member.roles).toEqual(['member']);
    expect(member.capabilities).not.toContain('identity:users:write');
    expect((await h.gql(USERS, {}, member)).errors).toBeUndefined();
    const denied = await h.gql(
      CREATE_USER,
      { input: { email: 'n@member.example', displayName: 'N', password: PASSWORD } },
      member,
    );
    expect(codeOf(denied)).toBe('FORBIDDEN');
    expect(denied.errors![0]!.message).toContain('identity:users:write');
    expect(codeOf(await h.gql(USERS, {}, null))).toBe('UNAUTHENTICATED');
  });

  it("keeps tenant A's admin out of everything of tenant B", async () => {
    const a = await newTenant('isoa');
    const b = await newTenant('isob');
    const bUser = await createUser(b.claims, 'bob@isob.example');
    const bKey = await createKey(b.claims, 'b-key', ['identity:users:read']);
    await h.gql(CREATE_ROLE, { input: { name: 'b-only', capabilities: ['identity:users:read'] } }, b.claims);

    const users = await h.gql(USERS, { first: 100 }, a.claims);
    const userIds = users.data!.users.edges.map((e: Loose) => e.node.id);
    expect(userIds).toEqual([a.admin.id]);
    expect(users.data!.users.totalCount).toBe(1);
    expect(codeOf(await h.gql('query($id: ID!) { user(id: $id) { id } }', { id: bUser.id }, a.claims))).toBe(
      'NOT_FOUND',
    );
    expect(codeOf(await h.gql('query($id: ID!) { user(id: $id) { id } }', { id: 'nope' }, a.claims))).toBe(
      'NOT_FOUND',
    );
    expect(
      codeOf(await h.gql('query($id: ID!) { user(id: $id) { id } }', { id: b.admin.id }, a.claims)),
    ).toBe('NOT_FOUND');
    const roles = await h.gql(ROLES, {}, a.claims);
    expect(roles.data!.roles.edges.map((e: Loose) => e.node.name).sort()).toEqual(['admin', 'member']);
    const keys = await h.gql(API_KEYS, {}, a.claims);
    expect(keys.data!.apiKeys.totalCount).toBe(0);
    const tenant = await h.gql('{ tenant { id slug } }', {}, a.claims);
    expect(tenant.data!.tenant).toEqual({ id: a.tenant.id, slug: a.slug });

    expect(codeOf(await h.gql(REVOKE_KEY, { id: bKey.apiKey.id }, a.claims))).toBe('NOT_FOUND');
    expect((await exchange(bKey.secret)).errors).toBeUndefined();
    expect(codeOf(await h.gql(ASSIGN_ROLE, { userId: bUser.id, roleName: 'admin' }, a.claims))).toBe(
      'NOT_FOUND',
    );
    const bob = await h.gql(
      'query($id: ID!) { user(id: $id) { roles { name } } }',
      { id: bUser.id },
      b.claims,
    );
    expect(bob.data!.user.roles).toEqual([{ name: 'member' }]);
    // Assigning A's role to B's user: still not found (the user is invisible).
    expect(codeOf(await h.gql(ASSIGN_ROLE, { userId: bUser.id, roleName: 'member' }, a.claims))).toBe(
      'NOT_FOUND',
    );

    // Federation entity resolution obeys the same rules.
    const entities = await h.gql(
      `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Tenant { id } ... on User { id } } }`,
      {
        reps: [
          { __typename: 'Tenant', id: b.tenant.id },
          { __typename: 'User', id: bUser.id },
          { __typename: 'Tenant', id: a.tenant.id },
        ],
      },
      a.claims,
    );
    expect(entities.data!._entities).toEqual([null, null, { id: a.tenant.id }]);

    // A token forged with B's tenant id but A's subject changes nothing about A's data, and the
    // database itself (not the resolvers) hides B's rows from a scope of A.
    const seen = await db.withScope({ tenantId: a.tenant.id }, (tx) =>
      tx.query<{ n: number }>('SELECT count(*)::int AS n FROM identity.users WHERE tenant_id = $1', [
        b.tenant.id,
      ]),
    );
    expect(seen.rows[0]!.n).toBe(0);
    const unscoped = await db.withScope({ tenantId: null }, (tx) =>
      tx.query<{ n: number }>('SELECT count(*)::int AS n FROM identity.api_keys'),
    );
    expect(unscoped.rows[0]!.n).toBe(0);
    await expect(
      db.withScope({ tenantId: a.tenant.id }, (tx) =>
        tx.query(`INSERT INTO identity.roles (tenant_id, name) VALUES ($1, 'sneaky')`, [b.tenant.id]),
      ),
    ).rejects.toThrow(/row-level security/);
  });

  it('creates an API key, exchanges it for a token, and revokes it without touching anything else', async () => {
    const t = await newTenant('keys');
    const created = await createKey(t.claims, 'ci', ['identity:users:read']);
    expect(created.secret).toMatch(/^sk_[0-9a-f]{32}_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);
    expect(created.secret.startsWith(created.apiKey.prefix.slice(0, 3))).toBe(true);
    const keep = await createKey(t.claims, 'keep', ['identity:users:read']);

    const exchanged = await exchange(created.secret);
    expect(exchanged.errors).toBeUndefined();
    const keyClaims = await h.claimsFor(exchanged.data!.exchangeApiKey.accessToken);
    expect(keyClaims).toMatchObject({
      subject: created.apiKey.id,
      tenantId: t.tenant.id,
      capabilities: ['identity:users:read'],
      authMethod: 'api_key',
      platformAdmin: false,
    });
    expect((await h.gql(USERS, {}, keyClaims)).errors).toBeUndefined();
    expect(codeOf(await h.gql(API_KEYS, {}, keyClaims))).toBe('FORBIDDEN');

    const listed = await h.gql(API_KEYS, {}, t.claims);
    // The random part: everything after the third '_' (base64url may itself contain '_').
    expect(JSON.stringify(listed)).not.toContain(created.secret.split('_').slice(3).join('_'));
    const used = listed.data!.apiKeys.edges.find((e: Loose) => e.node.id === created.apiKey.id).node;
    expect(used.lastUsedAt).not.toBeNull();

    // A tampered secret for an existing key id is rejected.
    expect(codeOf(await exchange(`${created.secret.slice(0, -4)}AAAA`))).toBe('UNAUTHENTICATED');
    expect(codeOf(await exchange('sk_garbage'))).toBe('UNAUTHENTICATED');

    const revoked = await h.gql(REVOKE_KEY, { id: created.apiKey.id }, t.claims);
    expect(revoked.data!.revokeApiKey.revokedAt).not.toBeNull();
    const again = await h.gql(REVOKE_KEY, { id: created.apiKey.id }, t.claims);
    expect(again.data!.revokeApiKey.revokedAt).toBe(revoked.data!.revokeApiKey.revokedAt);
    const refused = await exchange(created.secret);
    expect(codeOf(refused)).toBe('UNAUTHENTICATED');
    expect(refused.data).toBeNull();

    expect((await exchange(keep.secret)).errors).toBeUndefined();
    const after = await h.gql(API_KEYS, {}, t.claims);
    expect(after.data!.apiKeys.totalCount).toBe(2);
    const keepNode = after.data!.apiKeys.edges.find((e: Loose) => e.node.id === keep.apiKey.id).node;
    expect(keepNode.revokedAt).toBeNull();
  });

  it('grants only what the granter holds', async () => {
    const t = await newTenant('subset');
    const role = await h.gql(
      CREATE_ROLE,
      { input: { name: 'key-manager', capabilities: ['identity:apikeys:write', 'identity:apikeys:read'] } },
      t.claims,
    );
    expect(role.errors).toBeUndefined();
    const u = await createUser(t.claims, 'km@subset.example', ['key-manager']);
    const km = await signIn(t.slug, 'km@subset.example', PASSWORD);
    expect(km.capabilities).toEqual(['identity:apikeys:read', 'identity:apikeys:write']);

    const tooMuch = await h.gql(
      CREATE_KEY,
      { input: { name: 'x', capabilities: ['identity:apikeys:read', 'identity:users:write'] } },
      km,
    );
    expect(codeOf(tooMuch)).toBe('FORBIDDEN');
    expect(tooMuch.errors![0]!.message).toContain('identity:users:write');
    expect(codeOf(await h.gql(CREATE_KEY, { input: { name: 'x', capabilities: ['*'] } }, km))).toBe(
      'FORBIDDEN',
    );
    expect(
      (await h.gql(CREATE_KEY, { input: { name: 'x', capabilities: ['identity:apikeys:read'] } }, km)).errors,
    ).toBe(undefined);
    const unknown = await h.gql(
      CREATE_KEY,
      { input: { name: 'x', capabilities: ['launch:missiles'] } },
      t.claims,
    );
    expect(codeOf(unknown)).toBe('BAD_USER_INPUT');
    expect(unknown.errors![0]!.extensions!.field).toBe('capabilities');

    // A key minted from a restricted key cannot exceed it either.
    const narrow = await createKey(t.claims, 'narrow', ['identity:apikeys:write']);
    const narrowClaims = await h.claimsFor((await exchange(narrow.secret)).data!.exchangeApiKey.accessToken);
    expect(
      codeOf(
        await h.gql(
          CREATE_KEY,
          { input: { name: 'y', capabilities: ['identity:apikeys:read'] } },
          narrowClaims,
        ),
      ),
    ).toBe('FORBIDDEN');

    // Roles: roles:write alone cannot mint or hand out more than it holds.
    await h.gql(
      CREATE_ROLE,
      { input: { name: 'role-admin', capabilities: ['identity:roles:write'] } },
      t.claims,
    );
    await h.gql(ASSIGN_ROLE, { userId: u.id, roleName: 'role-admin' }, t.claims);
    const ra = await signIn(t.slug, 'km@subset.example', PASSWORD);
    expect(codeOf(await h.gql(ASSIGN_ROLE, { userId: u.id, roleName: 'admin' }, ra))).toBe('FORBIDDEN');
    expect(codeOf(await h.gql(CREATE_ROLE, { input: { name: 'god', capabilities: ['*'] } }, ra))).toBe(
      'FORBIDDEN',
    );
    const unknownCap = await h.gql(CREATE_ROLE, { input: { name: 'odd', capabilities: ['nope'] } }, t.claims);
    expect(codeOf(unknownCap)).toBe('BAD_USER_INPUT');
    const dupRole = await h.gql(CREATE_ROLE, { input: { name: 'role-admin', capabilities: [] } }, t.claims);
    expect(codeOf(dupRole)).toBe('CONFLICT');
    const badName = await h.gql(CREATE_ROLE, { input: { name: 'Bad Name', capabilities: [] } }, t.claims);
    expect(codeOf(badName)).toBe('BAD_USER_INPUT');

    // assignRole is idempotent.
    const twice = await h.gql(ASSIGN_ROLE, { userId: u.id, roleName: 'role-admin' }, t.claims);
    expect(twice.data!.assignRole.roles.map((r: Loose) => r.name)).toEqual(['key-manager', 'role-admin']);
  });

  it('paginates with cursors', async () => {
    const t = await newTenant('pages');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await createKey(t.claims, `k${i}`, ['identity:users:read'])).apiKey.id);

    const seen: string[] = [];
    let after: string | null = null;
    const pages: boolean[] = [];
    for (;;) {
      const r: Loose = await h.gql(API_KEYS, { first: 2, after }, t.claims);
      expect(r.errors).toBeUndefined();
      expect(r.data.apiKeys.totalCount).toBe(5);
      seen.push(...r.data.apiKeys.edges.map((e: Loose) => e.node.id));
      pages.push(r.data.apiKeys.pageInfo.hasNextPage);
      if (!r.data.apiKeys.pageInfo.hasNextPage) break;
      after = r.data.apiKeys.pageInfo.endCursor;
    }
    expect(pages).toEqual([true, true, false]);
    expect(seen).toEqual(ids);

    const users = await h.gql(USERS, { first: 1 }, t.claims);
    expect(users.data!.users.pageInfo.hasNextPage).toBe(false);
    expect(users.data!.users.edges).toHaveLength(1);
    expect((await h.gql(API_KEYS, {}, t.claims)).data!.apiKeys.edges).toHaveLength(5);
    expect(codeOf(await h.gql(API_KEYS, { first: 101 }, t.claims))).toBe('BAD_USER_INPUT');
    expect(codeOf(await h.gql(API_KEYS, { first: -1 }, t.claims))).toBe('BAD_USER_INPUT');
    expect(codeOf(await h.gql(API_KEYS, { after: 'not-a-cursor' }, t.claims))).toBe('BAD_USER_INPUT');
  });

  it('rotates signing keys without invalidating tokens already issued', async () => {
    const t = await newTenant('rotate');
    const before = (
      await h.gql(SIGN_IN, {
        input: { tenantSlug: t.slug, email: 'admin@rotate.example', password: PASSWORD },
      })
    ).data!.signIn.accessToken as string;
    const oldKid = decodeProtectedHeader(before).kid;
    // Verifiers that fetched the JWKS before the rotation already know the next kid.
    const cachedBeforeRotation = await h.jwks();

    expect(codeOf(await h.gql('mutation { rotateSigningKey { kid } }', {}, t.claims))).toBe('FORBIDDEN');
    const rotated = await h.gql('mutation { rotateSigningKey { kid } }', {}, platform);
    expect(rotated.errors).toBeUndefined();
    const newKid = rotated.data!.rotateSigningKey.kid;
    expect(newKid).not.toBe(oldKid);

    const after = (
      await h.gql(SIGN_IN, {
        input: { tenantSlug: t.slug, email: 'admin@rotate.example', password: PASSWORD },
      })
    ).data!.signIn.accessToken as string;
    expect(decodeProtectedHeader(after)).toMatchObject({ alg: 'ES256', kid: newKid });

    const jwks = await h.jwks();
    const kids = jwks.keys.map((k) => k.kid);
    expect(kids[0]).toBe(newKid);
    expect(kids).toContain(oldKid);
    for (const key of jwks.keys) expect(key).not.toHaveProperty('d');
    expect(cachedBeforeRotation.keys.map((k) => k.kid)).toContain(newKid);
    await jwtVerify(after, createLocalJWKSet(cachedBeforeRotation), { issuer: ISSUER, audience: AUDIENCE });
    const keySet = createLocalJWKSet(jwks);
    for (const token of [before, after]) {
      const { payload } = await jwtVerify(token, keySet, { issuer: ISSUER, audience: AUDIENCE });
      expect(payload).toMatchObject({ tid: t.tenant.id, pa: false, amr: 'password' });
      expect(payload.jti).toBeTypeOf('string');
      expect(payload.nbf).toBe(payload.iat);
    }
    // The function the start script uses rotates too.
    expect(decodeProtectedHeader(before).kid).toBe(oldKid);
  });

  it('drops replaced signing keys from the JWKS once twice the token lifetime has passed', async () => {
    const fresh = await openDatabase();
    const bus = new InProcessEventBus();
    try {
      await fresh.migrate(identityMigrations);
      const subgraph = await createIdentitySubgraph({
        db: fresh,
        events: bus,
        issuer: ISSUER,
        audience: AUDIENCE,
        accessTokenTtlSeconds: 1,
      });
      const kids = async () => {
        const { status, body } = await subgraph.getRoutes[JWKS_PATH]!();
        expect(status).toBe(200);
        return (body as { keys: { kid: string }[] }).keys.map((k) => k.kid);
      };
      // The active key and a pending one, published before it signs anything.
      const initial = await kids();
      expect(initial).toHaveLength(2);
      const { kid } = await subgraph.rotateSigningKey();
      expect(initial[1]).toBe(kid);
      const after = await kids();
      expect(after).toHaveLength(3);
      expect(after.slice(0, 2)).toEqual([kid, initial[0]]);
      await expect
        .poll(async () => (await kids()).includes(initial[0]!), { timeout: 6_000, interval: 250 })
        .toBe(false);
      expect(await kids()).toEqual([kid, after[2]]);
    } finally {
      await bus[Symbol.asyncDispose]();
      await fresh[Symbol.asyncDispose]();
    }
  });

  it("streams the caller's own tenant's identity events and stops cleanly on unsubscribe", async () => {
    const a = await newTenant('eventsa');
    const b = await newTenant('eventsb');
    const client = h.wsClient();

    const noCap = await createKey(a.claims, 'no-events', ['identity:users:read']);
    const noCapClaims = await h.claimsFor((await exchange(noCap.secret)).data!.exchangeApiKey.accessToken);
    const denied = h.subscribe(client, EVENTS, noCapClaims);
    // graphql-ws delivers a failed subscribe either as an error message or as a result with errors.
    const outcome = await denied.next().catch((error: unknown) => error);
    expect(JSON.stringify(outcome)).toContain('identity:events:read');

    const baseline = h.bus.subscriberCount('identity.events');
    const sub = h.subscribe(client, EVENTS, a.claims);
    await expect.poll(() => h.bus.subscriberCount('identity.events')).toBe(baseline + 1);

    await createUser(b.claims, 'b1@eventsb.example');
    const created = await createUser(a.claims, 'a1@eventsa.example');
    const first = await sub.next();
    expect(first.errors).toBeUndefined();
    expect(first.data!.identityEvents).toMatchObject({
      type: 'USER_CREATED',
      tenantId: a.tenant.id,
      subjectId: created.id,
      actorId: a.admin.id,
    });
    const second = await sub.next();
    expect(second.data!.identityEvents).toMatchObject({ type: 'ROLE_ASSIGNED', tenantId: a.tenant.id });

    sub.unsubscribe();
    await expect.poll(() => h.bus.subscriberCount('identity.events')).toBe(baseline);
  });
});
