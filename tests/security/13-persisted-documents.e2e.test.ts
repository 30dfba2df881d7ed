// Issue 14 item 13: an operator can switch the router to run registered operations only.
//
// The router under test is the real one (createRouter) with a manifest file loaded the way
// SOMA_PERSISTED_DOCUMENTS is, in front of the platform's real subgraph servers.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { claimsFromAccessTokenPayload } from '@somaagent/identity';
import {
  createRouter,
  loadPersistedDocuments,
  PersistedDocumentsError,
  type RunningRouter,
} from '@somaagent/router';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestPlatform, type TestPlatform } from '../support/platform';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const VIEWER = 'query Viewer { viewer { __typename } }';
const USERS = 'query Users { users { totalCount } }';
const EVENTS = 'subscription Events { identityEvents { type } }';
const UNREGISTERED = 'query Other { users { edges { node { email } } } }';

const routerSecret = randomBytes(32).toString('base64url');
const dir = mkdtempSync(join(tmpdir(), 'soma-persisted-'));
let t: TestPlatform;
let router: RunningRouter;
let tenant: Awaited<ReturnType<TestPlatform['createTenant']>>;

beforeAll(async () => {
  t = await startTestPlatform({ routerSecret });
  tenant = await t.createTenant('safelist');
  const manifest = join(dir, 'persisted-documents.json');
  writeFileSync(
    manifest,
    JSON.stringify(Object.fromEntries([VIEWER, USERS, EVENTS].map((d) => [sha256(d), d]))),
  );
  router = await createRouter({
    supergraphSdl: readFileSync(resolve(import.meta.dirname, '../../schema/supergraph.graphql'), 'utf8'),
    subgraphUrls: t.platform.subgraphUrls,
    routerSecret,
    issuers: [
      {
        issuer: 'http://somaagent.test',
        audience: 'somaagent',
        jwksUrl: t.platform.subgraphUrls.identity!.replace(/\/graphql$/, '/.well-known/jwks.json'),
        toClaims: claimsFromAccessTokenPayload,
      },
    ],
    persistedDocuments: loadPersistedDocuments(manifest),
    limits: { maxSubscriptionsPerConnection: 1 },
  });
});
afterAll(async () => {
  await router?.close();
  await t?.[Symbol.asyncDispose]();
  rmSync(dir, { recursive: true, force: true });
});

async function post(body: unknown, token?: string) {
  const res = await fetch(router.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  // biome-ignore lint/suspicious/noExplicitAny: shapes are asserted below
  const json = (await res.json()) as any;
  return { status: res.status, json, code: json.errors?.[0]?.extensions?.code as string | undefined };
}

describe('13 persisted documents (safelist)', () => {
  it('runs a registered operation named by documentId, sha256:-prefixed or upper case', async () => {
    for (const documentId of [sha256(VIEWER), `sha256:${sha256(VIEWER)}`, sha256(VIEWER).toUpperCase()]) {
      const r = await post({ documentId });
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ data: { viewer: null } });
    }
    const users = await post({ documentId: sha256(USERS) }, tenant.adminToken);
    expect(users.status).toBe(200);
    expect(users.json.data.users.totalCount).toBe(1);
  });

  it("runs a registered operation named by Apollo's extensions.persistedQuery.sha256Hash", async () => {
    const r = await post(
      { extensions: { persistedQuery: { version: 1, sha256Hash: sha256(USERS) } } },
      tenant.adminToken,
    );
    expect(r.status).toBe(200);
    expect(r.json.data.users.totalCount).toBe(1);
  });

  it('refuses query text, even the text of a registered operation: 403 PERSISTED_QUERY_REQUIRED', async () => {
    for (const query of [UNREGISTERED, USERS, '{ __schema { types { name } } }']) {
      const r = await post({ query }, tenant.adminToken);
      expect(r.status).toBe(403);
      expect(r.code).toBe('PERSISTED_QUERY_REQUIRED');
      expect(r.json.data ?? null).toBeNull();
      expect(r.json.errors[0].message).toMatch(/registered operations only/);
    }
  });

  it('refuses an unregistered id (400 PERSISTED_QUERY_NOT_FOUND) and a request naming none (403)', async () => {
    const unknown = await post({ documentId: sha256(UNREGISTERED) }, tenant.adminToken);
    expect(unknown.status).toBe(400);
    expect(unknown.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect(unknown.json.errors[0].message).toMatch(/register the operation/);
    const none = await post({ variables: {} }, tenant.adminToken);
    expect(none.status).toBe(403);
    expect(none.code).toBe('PERSISTED_QUERY_REQUIRED');
  });

  it('applies to every operation of a batch', async () => {
    const res = await fetch(router.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tenant.adminToken}` },
      body: JSON.stringify([{ documentId: sha256(USERS) }, { query: UNREGISTERED }]),
    });
    // biome-ignore lint/suspicious/noExplicitAny: shapes are asserted below
    const [first, second] = (await res.json()) as any[];
    expect(first.data.users.totalCount).toBe(1);
    expect(second.data ?? null).toBeNull();
    expect(second.errors[0].extensions.code).toBe('PERSISTED_QUERY_REQUIRED');
  });

  it('graphql-ws: a registered subscription runs and counts toward the per-socket cap; text is refused', async () => {
    const client = createClient({
      url: router.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${tenant.adminToken}` },
      retryAttempts: 0,
    });
    const byHash = { query: '', extensions: { persistedQuery: { version: 1, sha256Hash: sha256(EVENTS) } } };
    const collect = (payload: { query: string; extensions?: Record<string, unknown> }) => {
      const seen: { value?: { data?: unknown; errors?: unknown }; error?: unknown } = {};
      const done = new Promise<typeof seen>((resolveDone) => {
        client.subscribe(payload, {
          next: (value) => {
            seen.value = value;
            resolveDone(seen);
          },
          error: (error) => {
            seen.error = error;
            resolveDone(seen);
          },
          complete: () => resolveDone(seen),
        });
      });
      return done;
    };
    // Text first: refused by the safelist (and, ended, it frees its place under the cap).
    const text = await collect({ query: EVENTS });
    expect(JSON.stringify(text)).toContain('PERSISTED_QUERY_REQUIRED');
    expect(text.value?.data ?? null).toBeNull();
    await new Promise((r) => setTimeout(r, 200));
    const live = collect(byHash);
    await new Promise((r) => setTimeout(r, 500));
    // The cap is 1 here: a second persisted subscription on the socket is refused, so the
    // router counted the first although its payload carried no query text.
    const second = await collect(byHash);
    expect(JSON.stringify(second.error)).toContain('QUERY_TOO_COMPLEX');

    const made = await t.gql(
      'mutation($i: CreateUserInput!) { createUser(input: $i) { id } }',
      { i: { email: 'listed@safelist.test', displayName: 'Listed', password: 'long-enough-password' } },
      tenant.adminToken,
    );
    expect(made.errors).toBeUndefined();
    // Creating a user emits identity events (which ones is identity's business): one arrived.
    expect((await live).value?.data).toEqual({ identityEvents: { type: expect.any(String) } });
    await client.dispose();
  });

  it('a manifest whose id is not the sha256 of its document is refused at load, naming the file', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ [sha256(VIEWER)]: USERS }));
    expect(() => loadPersistedDocuments(bad)).toThrow(PersistedDocumentsError);
    expect(() => loadPersistedDocuments(bad)).toThrow(/bad\.json.*not the sha256 of its document/);
    expect(() => loadPersistedDocuments(join(dir, 'missing.json'))).toThrow(/cannot read/);
  });

  it("accepts Apollo's persisted query manifest format", () => {
    const apollo = join(dir, 'apollo.json');
    writeFileSync(
      apollo,
      JSON.stringify({
        format: 'apollo-persisted-query-manifest',
        version: 1,
        operations: [{ id: sha256(VIEWER), name: 'Viewer', type: 'query', body: VIEWER }],
      }),
    );
    const docs = loadPersistedDocuments(apollo);
    expect(docs.size).toBe(1);
    expect(docs.get(sha256(VIEWER))).toBe(VIEWER);
  });
});

describe('13 persisted documents through startPlatform (what npm start does with SOMA_PERSISTED_DOCUMENTS)', () => {
  it("the platform's own router runs registered operations only", async () => {
    const manifest = join(dir, 'platform-manifest.json');
    writeFileSync(manifest, JSON.stringify({ [sha256(VIEWER)]: VIEWER }));
    await using platform = await startTestPlatform({ persistedDocuments: loadPersistedDocuments(manifest) });
    const post = async (body: unknown) => {
      const res = await fetch(platform.platform.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      // biome-ignore lint/suspicious/noExplicitAny: shapes are asserted below
      return { status: res.status, json: (await res.json()) as any };
    };
    const registered = await post({ documentId: sha256(VIEWER) });
    expect(registered).toEqual({ status: 200, json: { data: { viewer: null } } });
    const text = await post({ query: VIEWER });
    expect(text.status).toBe(403);
    expect(text.json.errors[0].extensions.code).toBe('PERSISTED_QUERY_REQUIRED');
  });
});
