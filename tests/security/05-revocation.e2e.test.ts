import { randomBytes } from 'node:crypto';
import { startPlatform } from '@somaagent/platform';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ADMIN_PASSWORD, gql, startTestPlatform, type TestPlatform } from '../support/platform';

/**
 * Issue 14 item 5, revocation: revoking an API key, disabling a user or taking a role from them
 * refuses the tokens already issued at once — also one the router verified moments ago and would
 * otherwise reuse for 60 s — and closes their open subscriptions with 4403 within 5 s. The whole
 * platform (startPlatform, as npm start wires it), over HTTP and graphql-ws.
 */
let p: TestPlatform;
const signingKeySecret = randomBytes(32).toString('base64url');
let admin: string;
let slug: string;
const PASSWORD = 'a long enough password';

const token = (r: { data: Record<string, { accessToken: string }> | null; errors?: unknown }) => {
  if (!r.data) throw new Error(JSON.stringify(r.errors));
  return Object.values(r.data)[0]!.accessToken;
};
const signIn = async (email: string, password = PASSWORD) =>
  p.gql('mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }', {
    i: { tenantSlug: slug, email, password },
  });

/** Opens a socket with `bearer`, subscribes to identityEvents, resolves with the close code and when it came. */
function watchSocket(bearer: string) {
  let opened!: () => void;
  const ready = new Promise<void>((r) => {
    opened = r;
  });
  const closed = new Promise<{ code: number; at: number }>((resolve) => {
    const client = createClient({
      url: p.platform.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${bearer}` },
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => {},
      on: {
        connected: () => opened(),
        closed: (event) => resolve({ code: (event as { code: number }).code, at: Date.now() }),
      },
    });
    client.subscribe(
      { query: 'subscription { identityEvents { type } }' },
      { next: () => {}, error: () => {}, complete: () => {} },
    );
  });
  return { ready, closed };
}

const VIEWER = '{ viewer { subject } users { totalCount } }';

beforeAll(async () => {
  p = await startTestPlatform({ signingKeySecret });
  const pa = token(
    await p.gql('mutation($s: String!) { exchangeApiKey(secret: $s) { accessToken } }', {
      s: p.platformAdminKey,
    }),
  );
  slug = `rev-${randomBytes(3).toString('hex')}`;
  const created = await p.gql(
    'mutation($i: CreateTenantInput!) { createTenant(input: $i) { tenant { id } } }',
    {
      i: {
        slug,
        name: 'R',
        adminEmail: `admin@${slug}.test`,
        adminPassword: ADMIN_PASSWORD,
        adminDisplayName: 'A',
      },
    },
    pa,
  );
  expect(created.errors).toBeUndefined();
  admin = token(await signIn(`admin@${slug}.test`, ADMIN_PASSWORD));
}, 120_000);
afterAll(async () => {
  await p?.[Symbol.asyncDispose]();
});

describe('item 5: revocation takes effect within seconds', () => {
  it('revoking an API key refuses its token (already verified and reused) and closes its socket with 4403', async () => {
    const key = await p.gql(
      'mutation { createApiKey(input: { name: "ci", capabilities: ["identity:users:read", "identity:events:read"] }) { apiKey { id } secret } }',
      {},
      admin,
    );
    const keyToken = token(
      await p.gql('mutation($s: String!) { exchangeApiKey(secret: $s) { accessToken } }', {
        s: key.data.createApiKey.secret,
      }),
    );
    // Verified now, so the router would reuse the verification for up to 60 s.
    expect((await p.gql(VIEWER, {}, keyToken)).errors).toBeUndefined();
    const socket = watchSocket(keyToken);
    await socket.ready;
    const revokedAt = Date.now();
    const revoked = await p.gql(
      'mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }',
      { id: key.data.createApiKey.apiKey.id },
      admin,
    );
    expect(revoked.errors).toBeUndefined();
    const after = await p.gql(VIEWER, {}, keyToken);
    expect([after.status, after.code]).toEqual([401, 'UNAUTHENTICATED']);
    expect(after.errors?.[0]?.message).toMatch(/revoked/);
    const { code, at } = await socket.closed;
    expect(code).toBe(4403);
    expect(at - revokedAt).toBeLessThan(5_000);
    // The admin's own token is untouched.
    expect((await p.gql(VIEWER, {}, admin)).errors).toBeUndefined();
  });

  it('disabling a user refuses their tokens, closes their sockets with 4403 and stops sign-in', async () => {
    const email = `dana@${slug}.test`;
    const user = await p.gql(
      'mutation($i: CreateUserInput!) { createUser(input: $i) { id } }',
      { i: { email, displayName: 'Dana', password: PASSWORD } },
      admin,
    );
    const userToken = token(await signIn(email));
    expect((await p.gql(VIEWER, {}, userToken)).errors).toBeUndefined();
    const socket = watchSocket(userToken);
    await socket.ready;
    const disabledAt = Date.now();
    const disabled = await p.gql(
      'mutation($id: ID!) { disableUser(id: $id) { disabledAt } }',
      { id: user.data.createUser.id },
      admin,
    );
    expect(disabled.data.disableUser.disabledAt).toBeTruthy();
    expect((await p.gql(VIEWER, {}, userToken)).code).toBe('UNAUTHENTICATED');
    const { code, at } = await socket.closed;
    expect(code).toBe(4403);
    expect(at - disabledAt).toBeLessThan(5_000);
    const again = await signIn(email);
    expect(again.code).toBe('UNAUTHENTICATED');
    expect(again.errors?.[0]?.message).toMatch(/tenant, email or password is wrong/);
  });

  it('taking a role from a user refuses the tokens that carry it; a new sign-in gets the reduced capabilities', async () => {
    const role = await p.gql(
      'mutation { createRole(input: { name: "keymaker", capabilities: ["identity:apikeys:write"] }) { id } }',
      {},
      admin,
    );
    expect(role.errors).toBeUndefined();
    const email = `kim@${slug}.test`;
    const user = await p.gql(
      'mutation($i: CreateUserInput!) { createUser(input: $i) { id } }',
      { i: { email, displayName: 'Kim', password: PASSWORD, roleNames: ['member', 'keymaker'] } },
      admin,
    );
    const before = token(await signIn(email));
    const me = await p.gql('{ viewer { capabilities } }', {}, before);
    expect(me.data.viewer.capabilities).toContain('identity:apikeys:write');
    const socket = watchSocket(before);
    await socket.ready;
    const removedAt = Date.now();
    const removed = await p.gql(
      'mutation($u: ID!) { unassignRole(userId: $u, roleName: "keymaker") { roles { name } } }',
      { u: user.data.createUser.id },
      admin,
    );
    expect(removed.data.unassignRole.roles.map((r: { name: string }) => r.name)).toEqual(['member']);
    const minted = await p.gql(
      'mutation { createApiKey(input: { name: "x", capabilities: ["identity:users:read"] }) { secret } }',
      {},
      before,
    );
    expect(minted.code).toBe('UNAUTHENTICATED');
    const { code, at } = await socket.closed;
    expect(code).toBe(4403);
    expect(at - removedAt).toBeLessThan(5_000);
    // Tokens issued in the second of the revocation are refused too; the next second's are fine.
    await new Promise((r) => setTimeout(r, 1_100));
    const after = token(await signIn(email));
    const reduced = await p.gql('{ viewer { capabilities } }', {}, after);
    expect(reduced.errors).toBeUndefined();
    expect(reduced.data.viewer.capabilities).not.toContain('identity:apikeys:write');
  });

  it('a revocation outlives a restart: a new platform process on the same database refuses the old token', async () => {
    const key = await p.gql(
      'mutation { createApiKey(input: { name: "restart", capabilities: ["identity:users:read"] }) { apiKey { id } secret } }',
      {},
      admin,
    );
    const keyToken = token(
      await p.gql('mutation($s: String!) { exchangeApiKey(secret: $s) { accessToken } }', {
        s: key.data.createApiKey.secret,
      }),
    );
    const revoked = await p.gql(
      'mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }',
      { id: key.data.createApiKey.apiKey.id },
      admin,
    );
    expect(revoked.errors).toBeUndefined();
    // What a restart leaves: the database. Nothing of the first process's memory.
    await using restarted = await startPlatform({
      db: p.db,
      issuer: 'http://somaagent.test',
      routerSecret: randomBytes(32).toString('base64url'),
      platformAdminKey: p.platformAdminKey,
      signingKeySecret,
    });
    const after = await gql(restarted.url, VIEWER, {}, keyToken);
    expect([after.status, after.code]).toEqual([401, 'UNAUTHENTICATED']);
    expect((await gql(restarted.url, VIEWER, {}, admin)).errors).toBeUndefined();
  });
});
