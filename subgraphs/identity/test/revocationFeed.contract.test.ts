/**
 * A router in its own process learns of revocations from the database alone (RevocationFeed):
 * the identity subgraph revokes through the graph, the feed — sharing nothing in memory with it —
 * refuses the revoked subject's tokens within its polling interval, and keeps what was stored
 * before it started.
 */
import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { SqlDatabase } from '@somaagent/ports';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../tests/support/postgres';
import { RevocationFeed } from '../src/index';
import { type IdentityHarness, PLATFORM_KEY, startIdentity } from './harness';

const PASSWORD = 'correct horse battery staple';
const EXCHANGE = `mutation($secret: String!) { exchangeApiKey(secret: $secret) { accessToken } }`;

let db: SqlDatabase;
let h: IdentityHarness;
let admin: VerifiedClaims;

async function until(check: () => boolean, ms: number): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) throw new Error(`not true within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - started;
}

async function newKey(name: string): Promise<string> {
  const r = await h.gql(
    `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { id } } }`,
    { i: { name, capabilities: ['identity:users:read'] } },
    admin,
  );
  expect(r.errors).toBeUndefined();
  return r.data!.createApiKey.apiKey.id;
}

async function revoke(id: string) {
  const r = await h.gql(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id }, admin);
  expect(r.errors).toBeUndefined();
}

beforeAll(async () => {
  db = await createTestDatabase();
  h = await startIdentity(db);
  const platform = await h.claimsFor(
    (await h.gql(EXCHANGE, { secret: PLATFORM_KEY })).data!.exchangeApiKey.accessToken,
  );
  const slug = `feed-${process.pid}-${Date.now().toString(36)}`;
  const created = await h.gql(
    `mutation($i: CreateTenantInput!) { createTenant(input: $i) { tenant { id } } }`,
    {
      i: {
        slug,
        name: 'Feed',
        adminEmail: 'admin@feed.example',
        adminPassword: PASSWORD,
        adminDisplayName: 'A',
      },
    },
    platform,
  );
  expect(created.errors).toBeUndefined();
  const signed = await h.gql(`mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }`, {
    i: { tenantSlug: slug, email: 'admin@feed.example', password: PASSWORD },
  });
  admin = await h.claimsFor(signed.data!.signIn.accessToken);
}, 60_000);
afterAll(async () => {
  await h?.[Symbol.asyncDispose]();
  await db?.[Symbol.asyncDispose]();
});

describe('RevocationFeed (PostgreSQL server)', () => {
  it('starts with what is stored, follows new revocations within its interval, and refuses only tokens issued before them', async () => {
    const before = await newKey('revoked-before-start');
    await revoke(before);
    const later = await newKey('revoked-later');
    const issuedAt = Math.floor(Date.now() / 1000) - 1;

    await using feed = await RevocationFeed.start(db, 900, 200);
    expect(feed.isRevoked({ subject: before, issuedAt })).toBe(true);
    expect(feed.isRevoked({ subject: later, issuedAt })).toBe(false);

    await revoke(later);
    const took = await until(() => feed.isRevoked({ subject: later, issuedAt }), 5_000);
    console.log(`[revocation feed] revoked key seen by the feed after ${took} ms (interval 200 ms)`);
    // A token issued after the revocation (a new exchange) is not refused.
    expect(feed.isRevoked({ subject: later, issuedAt: Math.floor(Date.now() / 1000) + 2 })).toBe(false);
    expect(feed.isRevoked({ subject: admin.subject, issuedAt })).toBe(false);
  });
});
