import { randomBytes } from 'node:crypto';
import type { RunningSubgraph } from '@somaagent/subgraph-server';
import { createClient } from 'graphql-ws';
import { exportSPKI, generateKeyPair, importJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { composeSupergraph } from '../src/compose/composeSupergraph';
import { createRouter, type RunningRouter } from '../src/createRouter';
import { demoSdl, serveDemoSubgraph } from './fixtures/demoSubgraph';
import { startTestIssuer } from './fixtures/testIssuer';

const secret = randomBytes(32).toString('base64url');
const supergraphSdl = composeSupergraph([
  { name: 'demo', routingUrl: 'http://127.0.0.1:1/graphql', schemaFile: 'demo.graphql', sdl: demoSdl },
]);
const limits = {
  maxDepth: 6,
  maxAliases: 5,
  maxTokens: 300,
  maxDirectives: 4,
  maxCost: 100,
  maxBatchSize: 3,
  maxBodyBytes: 8 * 1024,
  maxSubscriptionsPerConnection: 2,
  connectionInitTimeoutMs: 500,
};

let issuer: Awaited<ReturnType<typeof startTestIssuer>>;
let subgraph: RunningSubgraph;
let router: RunningRouter;
let closedRouter: RunningRouter;

beforeAll(async () => {
  issuer = await startTestIssuer();
  subgraph = await serveDemoSubgraph(secret);
  const common = {
    supergraphSdl,
    subgraphUrls: { demo: subgraph.url },
    routerSecret: secret,
    issuers: [issuer.trusted],
    limits,
  };
  router = await createRouter({ ...common, allowedOrigins: ['https://app.example'] });
  closedRouter = await createRouter({ ...common, introspection: false });
});

afterAll(async () => {
  await router?.close();
  await closedRouter?.close();
  await subgraph?.close();
  await issuer?.close();
});

async function post(body: unknown, headers: Record<string, string> = {}, target = router) {
  const res = await fetch(target.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: {
    data?: Record<string, unknown> | null;
    errors?: { message: string; extensions?: Record<string, unknown> }[];
  };
  try {
    json = JSON.parse(text);
  } catch {
    json = { errors: [{ message: text }] };
  }
  return {
    status: res.status,
    json,
    code: json.errors?.[0]?.extensions?.code,
    message: json.errors?.[0]?.message,
  };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

describe('queries through the router', () => {
  it('serves a federated query and forwards verified claims to the subgraph', async () => {
    const token = await issuer.sign({ sub: 'alice' });
    const r = await post({ query: '{ hello whoami }' }, bearer(token));
    expect(r.status).toBe(200);
    expect(r.json.data).toEqual({ hello: 'world', whoami: 'alice' });
  });

  it('lets anonymous requests through but the subgraph refuses fields that need a caller', async () => {
    const r = await post({ query: '{ whoami }' });
    expect(r.code).toBe('UNAUTHENTICATED');
  });

  it('serves introspection by default', async () => {
    const r = await post({ query: '{ __schema { queryType { name } } }' });
    expect(r.json.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
  });
});

describe('bad input gets a stable code and a 4xx', () => {
  it('malformed query → GRAPHQL_PARSE_FAILED 400', async () => {
    const r = await post({ query: '{ hello ' });
    expect([r.status, r.code]).toEqual([400, 'GRAPHQL_PARSE_FAILED']);
  });

  it('a body that is not a JSON operation → 400 with a code, whatever its shape', async () => {
    // (The router parses JSON bodies itself before the gateway sees them: same answers as the gateway's.)
    for (const body of ['{"query": "{ hello }"', '{}', 'null', '"{ hello }"', '42']) {
      const r = await post(body);
      expect([r.status, r.code], body).toEqual([400, 'BAD_REQUEST']);
    }
    const empty = await post('[]');
    expect([empty.status, empty.code, empty.message]).toEqual([
      400,
      'BAD_USER_INPUT',
      'a batch needs at least one operation',
    ]);
    // The same operation as text under a JSON content type is still answered (parsed once, here).
    const ok = await post('{"query": "{ hello }"}');
    expect([ok.status, ok.json.data]).toEqual([200, { hello: expect.any(String) }]);
  });

  it('unknown field → GRAPHQL_VALIDATION_FAILED 400', async () => {
    const r = await post({ query: '{ nope }' });
    expect([r.status, r.code]).toEqual([400, 'GRAPHQL_VALIDATION_FAILED']);
  });

  it('clients cannot reach _entities or _service', async () => {
    for (const query of ['{ _service { sdl } }', '{ _entities(representations: []) { __typename } }']) {
      const r = await post({ query });
      expect([r.status, r.code]).toEqual([400, 'GRAPHQL_VALIDATION_FAILED']);
    }
  });

  it('oversized body → 413 PAYLOAD_TOO_LARGE', async () => {
    const r = await post({ query: `{ hello }#${'x'.repeat(limits.maxBodyBytes)}` });
    expect([r.status, r.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
  });

  it('subgraphs refuse requests that do not come from the router', async () => {
    const res = await fetch(subgraph.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ _service { sdl } }' }),
    });
    expect(res.status).toBe(401);
    const forged = await fetch(subgraph.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: '{ hello }',
        extensions: { somaRouter: { claims: null, iat: now(), sig: 'forged' } },
      }),
    });
    expect(forged.status).toBe(401);
  });
});

describe('tokens: one test per way a token can be wrong', () => {
  const expectRejected = async (token: string, fragment: RegExp) => {
    const r = await post({ query: '{ hello }' }, bearer(token));
    expect(r.status).toBe(401);
    expect(r.code).toBe('UNAUTHENTICATED');
    expect(r.message).toMatch(fragment);
    expect(r.json.data ?? null).toBeNull();
  };

  it('missing token on a protected field', async () => {
    const r = await post({ query: '{ whoami }' });
    expect(r.code).toBe('UNAUTHENTICATED');
  });
  it('expired', async () =>
    expectRejected(await issuer.sign({ exp: now() - 120 }, { expiresIn: null }), /expired/));
  it('not yet valid', async () => expectRejected(await issuer.sign({ nbf: now() + 3600 }), /not yet valid/));
  it('no exp', async () => expectRejected(await issuer.sign({}, { expiresIn: null }), /exp/));
  it('wrong issuer', async () => expectRejected(await issuer.sign({}, { iss: 'urn:evil' }), /not trusted/));
  it('wrong audience', async () => expectRejected(await issuer.sign({}, { aud: 'someone-else' }), /aud/));
  it('alg: none', async () => {
    const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: issuer.issuer, aud: issuer.audience, sub: 'x', exp: now() + 60 })}.`;
    await expectRejected(token, /alg: none/);
  });
  it('HS256 signed with the public key as the secret', async () => {
    const publicKey = await importJWK(issuer.publicJwk, 'ES256');
    const pem = await exportSPKI(publicKey as CryptoKey);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', kid: 'test-key-1' })
      .setIssuer(issuer.issuer)
      .setAudience(issuer.audience)
      .setSubject('mallory')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(pem));
    await expectRejected(token, /algorithm/);
  });
  it('tampered signature (payload changed after signing)', async () => {
    const [header, , signature] = (await issuer.sign({ sub: 'alice' })).split('.');
    const payload = b64({ iss: issuer.issuer, aud: issuer.audience, sub: 'admin', exp: now() + 300 });
    await expectRejected(`${header}.${payload}.${signature}`, /signature/);
  });
  it('unknown kid', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'never-published' })
      .setIssuer(issuer.issuer)
      .setAudience(issuer.audience)
      .setSubject('x')
      .setExpirationTime('5m')
      .sign(privateKey);
    await expectRejected(token, /unknown key/);
  });
  it('garbage', async () => expectRejected('not.a.jwt', /well-formed/));
});

describe('GraphQL protections, on by default', () => {
  const tooComplex = async (query: string, fragment: RegExp) => {
    const r = await post({ query });
    expect([r.status, r.code]).toEqual([400, 'QUERY_TOO_COMPLEX']);
    // Several limits can trip at once; the one under test must be among them.
    expect(r.json.errors?.map((e) => e.message).join('\n')).toMatch(fragment);
  };
  it('max depth', () =>
    tooComplex('{ node { child { child { child { child { child { child { id } } } } } } } }', /Depth/i));
  it('max aliases, __typename aliases included', () =>
    tooComplex(`{ ${Array.from({ length: 6 }, (_, i) => `t${i}: __typename`).join(' ')} }`, /Aliases/));
  it('max tokens', () => tooComplex(`{ ${'hello '.repeat(400)} }`, /Token/));
  it('max directives', () => tooComplex(`{ hello ${'@skip(if: false) '.repeat(5)} }`, /Directives/));
  it('cost', () => tooComplex(`{ ${'node { id name child { id } } '.repeat(20)} }`, /Cost/i));
  it('max batch size', async () => {
    const r = await post(Array.from({ length: 4 }, () => ({ query: '{ hello }' })));
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(r.message).toMatch(/[Bb]atch/);
  });
  it('batches within the limit work', async () => {
    const res = await fetch(router.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ query: '{ hello }' }, { query: '{ hello }' }]),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([{ data: { hello: 'world' } }, { data: { hello: 'world' } }]);
  });
  it('CSRF: a simple (non-preflighted) request is refused', async () => {
    const res = await fetch(router.url, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ query: 'mutation { __typename }' }),
    });
    expect(res.status).toBe(403);
    expect(
      ((await res.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code,
    ).toBe('CSRF_REJECTED');
    const get = await fetch(`${router.url}?query=${encodeURIComponent('{ hello }')}`);
    expect(get.status).toBeGreaterThanOrEqual(400);
    expect(get.status).toBeLessThan(500);
  });
  it('internal errors are masked: no stack, no host names', async () => {
    const r = await post({ query: '{ boom }' });
    const body = JSON.stringify(r.json);
    expect(body).not.toMatch(/db\.internal|ECONNREFUSED|secret\.ts|\bat\s/);
    expect(r.json.errors?.[0]?.message).toBeTruthy();
  });
  it('introspection can be switched off, and then field suggestions are hidden', async () => {
    const intro = await post({ query: '{ __schema { types { name } } }' }, {}, closedRouter);
    expect(intro.status).toBe(400);
    expect(intro.json.data ?? null).toBeNull();
    const typo = await post({ query: '{ helo }' }, {}, closedRouter);
    expect(typo.message).not.toMatch(/Did you mean/);
    const typoOpen = await post({ query: '{ helo }' });
    expect(typoOpen.message).toMatch(/Did you mean/);
  });
});

describe('subscriptions over graphql-ws through federation', () => {
  const subscribe = (client: ReturnType<typeof createClient>, query: string) =>
    new Promise<unknown[]>((resolve, reject) => {
      const got: unknown[] = [];
      client.subscribe({ query }, { next: (v) => got.push(v), error: reject, complete: () => resolve(got) });
    });

  it('streams a subgraph-owned subscription with the token from connectionParams', async () => {
    const client = createClient({
      url: router.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${await issuer.sign()}` },
    });
    const got = await subscribe(client, 'subscription { ticks(n: 3) }');
    expect(got).toEqual([{ data: { ticks: 0 } }, { data: { ticks: 1 } }, { data: { ticks: 2 } }]);
    await client.dispose();
  });

  const closeOf = (ws: WebSocket) =>
    new Promise<{ code: number; reason: string }>((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );

  it('refuses a connection whose token does not verify (4401)', async () => {
    const ws = new WebSocket(router.wsUrl, 'graphql-transport-ws');
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: 'Bearer nope' } }));
    const { code } = await closeOf(ws);
    expect(code).toBe(4401);
  });

  it('closes a socket that never sends connection_init', async () => {
    const ws = new WebSocket(router.wsUrl, 'graphql-transport-ws');
    const started = Date.now();
    const { code } = await closeOf(ws);
    expect(code).toBe(4408);
    expect(Date.now() - started).toBeLessThan(limits.connectionInitTimeoutMs + 2000);
  });

  it('closes the socket when the token expires', async () => {
    const token = await issuer.sign({ exp: now() + 2 }, { expiresIn: null });
    const ws = new WebSocket(router.wsUrl, 'graphql-transport-ws');
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
    const { code, reason } = await closeOf(ws);
    expect(code).toBe(4401);
    expect(reason).toMatch(/expired/);
  });

  it('applies the Origin allowlist to the upgrade', async () => {
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(router.wsUrl, 'graphql-transport-ws', {
        headers: { origin: 'https://evil.example' },
      });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    expect(refused).toBe(403);
    const allowed = await new Promise<boolean>((resolve) => {
      const ws = new WebSocket(router.wsUrl, 'graphql-transport-ws', {
        headers: { origin: 'https://app.example' },
      });
      ws.on('open', () => {
        ws.close();
        resolve(true);
      });
      ws.on('unexpected-response', () => resolve(false));
    });
    expect(allowed).toBe(true);
  });

  it('caps concurrent subscriptions per connection (queries and mutations on the socket do not count)', async () => {
    const client = createClient({
      url: router.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${await issuer.sign()}` },
    });
    const long = 'subscription { ticks(n: 1000, intervalMs: 50) }';
    const disposers = [0, 1].map(() =>
      client.subscribe({ query: long }, { next: () => {}, error: () => {}, complete: () => {} }),
    );
    await new Promise((r) => setTimeout(r, 200));
    const third = await subscribe(client, long).then(
      () => 'completed',
      (errors: { message: string }[]) => errors[0]?.message ?? 'error',
    );
    expect(third).toMatch(/at most 2 concurrent subscriptions/);
    // Queries and mutations over the same socket end by themselves: they are not capped.
    const query = await subscribe(client, '{ hello }');
    expect(query).toEqual([{ data: { hello: expect.any(String) } }]);
    for (const dispose of disposers) dispose();
    // After completing one, a new subscription fits again.
    await new Promise((r) => setTimeout(r, 100));
    const again = await subscribe(client, 'subscription { ticks(n: 1) }');
    expect(again).toEqual([{ data: { ticks: 0 } }]);
    await client.dispose();
  });
});
