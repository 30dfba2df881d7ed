import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../support/platform';

// Through the router, on a real PostgreSQL server whose app pool holds ONE connection: every
// request of tenant A and tenant B reuses the same pooled connection, so a tenant setting that
// outlived its transaction would show up here as a leak.
let t: TestPlatform;
let a: Awaited<ReturnType<TestPlatform['createTenant']>>;
let b: Awaited<ReturnType<TestPlatform['createTenant']>>;
let bUserId: string;
let bKeyId: string;
let bKeySecret: string;

beforeAll(async () => {
  // Over signed HTTP and graphql-ws to the subgraphs, as a distributed deployment: isolation
  // must not depend on the router and subgraphs sharing a process.
  t = await startTestPlatform({ subgraphTransport: 'http' }, { appPoolMax: 1 });
  a = await t.createTenant('alpha');
  b = await t.createTenant('bravo');
  const user = await t.gql(
    'mutation($i: CreateUserInput!) { createUser(input: $i) { id } }',
    { i: { email: 'bob@bravo.test', displayName: 'Bob', password: 'bravo-password-123' } },
    b.adminToken,
  );
  bUserId = user.data.createUser.id;
  const key = await t.gql(
    'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { id } secret } }',
    { i: { name: 'bravo-ci', capabilities: ['identity:users:read'] } },
    b.adminToken,
  );
  bKeyId = key.data.createApiKey.apiKey.id;
  bKeySecret = key.data.createApiKey.secret;
});

afterAll(async () => {
  await t?.[Symbol.asyncDispose]();
});

const emails = (r: { data: { users: { edges: { node: { email: string } }[] } } }) =>
  r.data.users.edges.map((e) => e.node.email).sort();

describe('tenant A can neither read nor change anything of tenant B through the graph', () => {
  it('lists: users, roles, apiKeys, tenant show only A', async () => {
    const r = await t.gql(
      `{ tenant { id slug } users { totalCount edges { node { id email } } }
         roles { edges { node { id name } } } apiKeys { totalCount edges { node { id name } } } }`,
      {},
      a.adminToken,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data.tenant).toEqual({ id: a.tenantId, slug: 'alpha' });
    expect(emails(r)).toEqual(['admin@alpha.test']);
    expect(r.data.apiKeys.totalCount).toBe(0);
    const serialized = JSON.stringify(r.data);
    expect(serialized).not.toContain(bUserId);
    expect(serialized).not.toContain(bKeyId);
    expect(serialized).not.toContain('bravo');
  });

  it("user(id) of B's user is NOT_FOUND for A, with nothing leaked", async () => {
    const r = await t.gql('query($id: ID!) { user(id: $id) { id email } }', { id: bUserId }, a.adminToken);
    expect(r.code).toBe('NOT_FOUND');
    expect(JSON.stringify(r)).not.toContain('bob@bravo.test');
  });

  it("revokeApiKey of B's key is NOT_FOUND for A, and B's key still works", async () => {
    const r = await t.gql(
      'mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }',
      { id: bKeyId },
      a.adminToken,
    );
    expect(r.code).toBe('NOT_FOUND');
    const exchanged = await t.gql('mutation($s: String!) { exchangeApiKey(secret: $s) { accessToken } }', {
      s: bKeySecret,
    });
    expect(exchanged.errors).toBeUndefined();
    expect(exchanged.data.exchangeApiKey.accessToken).toBeTruthy();
  });

  it("assignRole on B's user is NOT_FOUND for A, and B's user keeps its roles", async () => {
    const r = await t.gql(
      'mutation($u: ID!) { assignRole(userId: $u, roleName: "admin") { id } }',
      { u: bUserId },
      a.adminToken,
    );
    expect(r.code).toBe('NOT_FOUND');
    const seen = await t.gql(
      'query($id: ID!) { user(id: $id) { roles { name } } }',
      { id: bUserId },
      b.adminToken,
    );
    expect(seen.data.user.roles.map((x: { name: string }) => x.name)).toEqual(['member']);
  });

  it('creating a user with the same email in A does not touch B', async () => {
    const r = await t.gql(
      'mutation($i: CreateUserInput!) { createUser(input: $i) { id email } }',
      { i: { email: 'bob@bravo.test', displayName: 'Other Bob', password: 'alpha-password-123' } },
      a.adminToken,
    );
    expect(r.errors).toBeUndefined();
    const inB = await t.gql('{ users { edges { node { email displayName } } } }', {}, b.adminToken);
    expect(
      inB.data.users.edges.find((e: { node: { email: string } }) => e.node.email === 'bob@bravo.test').node
        .displayName,
    ).toBe('Bob');
  });

  it('interleaved requests of A and B on one pooled connection never see each other', async () => {
    const idsOf = async (token: string) =>
      new Set(
        (await t.gql('{ users(first: 100) { edges { node { id } } } }', {}, token)).data.users.edges.map(
          (e: { node: { id: string } }) => e.node.id,
        ),
      );
    const own = { alpha: await idsOf(a.adminToken), bravo: await idsOf(b.adminToken) };
    const rounds = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        t.gql(
          '{ tenant { slug } users(first: 100) { edges { node { id } } } }',
          {},
          i % 2 ? b.adminToken : a.adminToken,
        ),
      ),
    );
    rounds.forEach((r, i) => {
      const slug = i % 2 ? 'bravo' : 'alpha';
      expect(r.data.tenant.slug).toBe(slug);
      const ids = r.data.users.edges.map((e: { node: { id: string } }) => e.node.id);
      expect(new Set(ids)).toEqual(own[slug]);
    });
    // And after all of that, the connection carries no tenant: an unscoped query sees nothing.
    const leftover = await t.db.appPool.query(
      "SELECT current_setting('soma.tenant_id', true) AS tenant, current_user AS role",
    );
    expect(leftover.rows[0].tenant ?? '').toBe('');
    expect(leftover.rows[0].role).toBe('soma_app');
  });

  it('identityEvents streams only the subscriber tenant events', async () => {
    const client = t.wsClient(a.adminToken);
    const received: { type: string; tenantId: string }[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const stop = client.subscribe(
        { query: 'subscription { identityEvents { type tenantId subjectId } }' },
        {
          next: (v) => {
            received.push((v.data as { identityEvents: { type: string; tenantId: string } }).identityEvents);
            if (received.some((e) => e.type === 'USER_CREATED')) {
              stop();
              resolve();
            }
          },
          error: reject,
          complete: () => resolve(),
        },
      );
    });
    await new Promise((r) => setTimeout(r, 300));
    // B acts first; A's subscriber must not see it.
    await t.gql(
      'mutation($i: CreateUserInput!) { createUser(input: $i) { id } }',
      { i: { email: 'carol@bravo.test', displayName: 'Carol', password: 'bravo-password-456' } },
      b.adminToken,
    );
    await t.gql(
      'mutation($i: CreateUserInput!) { createUser(input: $i) { id } }',
      { i: { email: 'dave@alpha.test', displayName: 'Dave', password: 'alpha-password-456' } },
      a.adminToken,
    );
    await done;
    expect(received.length).toBeGreaterThan(0);
    for (const e of received) expect(e.tenantId).toBe(a.tenantId);
  });
});
