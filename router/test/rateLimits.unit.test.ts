import { randomBytes } from 'node:crypto';
import type { RunningSubgraph } from '@somaagent/subgraph-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { composeSupergraph } from '../src/compose/composeSupergraph';
import { createRouter, type RouterLimits, type RunningRouter } from '../src/createRouter';
import { operationCost } from '../src/rateLimits/operationCost';
import { demoSdl, serveDemoSubgraph } from './fixtures/demoSubgraph';
import { startTestIssuer } from './fixtures/testIssuer';

// The router's quotas on a real fixture subgraph and a real JWKS server (nothing provisioned);
// tests/security/03-rate-limits.e2e.test.ts runs the same properties through the whole platform.
const secret = randomBytes(32).toString('base64url');
const supergraphSdl = composeSupergraph([
  { name: 'demo', routingUrl: 'http://127.0.0.1:1/graphql', schemaFile: 'demo.graphql', sdl: demoSdl },
]);

let issuer: Awaited<ReturnType<typeof startTestIssuer>>;
let subgraph: RunningSubgraph;
const routers: RunningRouter[] = [];

beforeAll(async () => {
  issuer = await startTestIssuer();
  subgraph = await serveDemoSubgraph(secret);
});
afterAll(async () => {
  for (const r of routers) await r.close();
  await subgraph?.close();
  await issuer?.close();
});

async function start(limits: Partial<RouterLimits>): Promise<RunningRouter> {
  const trusted = issuer.trusted;
  const router = await createRouter({
    supergraphSdl,
    subgraphUrls: { demo: subgraph.url },
    routerSecret: secret,
    // The fixture issuer's tenant comes from a `tid` claim here, so tests can play two tenants.
    issuers: [
      {
        ...trusted,
        toClaims: (p, iss) => ({ ...trusted.toClaims(p, iss), tenantId: String(p.tid ?? 'tenant-1') }),
      },
    ],
    limits,
  });
  routers.push(router);
  return router;
}

async function post(router: RunningRouter, body: unknown, token?: string) {
  const res = await fetch(router.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as { errors?: { extensions?: Record<string, unknown> }[] } | unknown[];
  const first = Array.isArray(json) ? undefined : json.errors?.[0];
  return { status: res.status, retryAfter: res.headers.get('retry-after'), json, error: first };
}

describe('operationCost', () => {
  it('counts root fields, aliases and root fragments; at least 1', () => {
    expect(operationCost('{ hello }', null, 500)).toBe(1);
    expect(operationCost('{ a: hello b: hello c: whoami }', null, 500)).toBe(3);
    expect(operationCost('query Q { ...F hello } fragment F on Query { x: hello y: hello }', 'Q', 500)).toBe(
      3,
    );
    expect(operationCost('{ ... on Query { a: hello b: hello } }', null, 500)).toBe(2);
    expect(operationCost('{ node { id name child { id } } }', null, 500)).toBe(1);
    expect(operationCost('{ hello', null, 500)).toBe(1);
    expect(operationCost(undefined, null, 500)).toBe(1);
  });
});

describe('request budgets over HTTP', () => {
  it('answers 429 RATE_LIMITED with retryAfter and Retry-After once a subject spent its budget', async () => {
    const router = await start({ requestsPerMinutePerSubject: 3 });
    const token = await issuer.sign({ sub: 'alice', tid: 't-http' });
    for (let i = 0; i < 3; i++) expect((await post(router, { query: '{ hello }' }, token)).status).toBe(200);
    const refused = await post(router, { query: '{ hello }' }, token);
    expect(refused.status).toBe(429);
    expect(refused.error?.extensions?.code).toBe('RATE_LIMITED');
    expect(refused.error?.extensions?.scope).toBe('subject');
    const retryAfter = refused.error?.extensions?.retryAfter as number;
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.retryAfter).toBe(String(retryAfter));
    // Another user of the same tenant has a budget of their own.
    expect(
      (await post(router, { query: '{ hello }' }, await issuer.sign({ sub: 'bob', tid: 't-http' }))).status,
    ).toBe(200);
  });

  it('counts each operation of a batch and each root alias', async () => {
    const router = await start({ requestsPerMinutePerSubject: 5 });
    const token = await issuer.sign({ sub: 'carol', tid: 't-batch' });
    // 3 aliases = 3 units, then a batch of 2 operations = 2 units: the budget of 5 is spent.
    expect((await post(router, { query: '{ a: hello b: hello c: hello }' }, token)).status).toBe(200);
    const batch = await post(router, [{ query: '{ hello }' }, { query: '{ hello }' }], token);
    expect(batch.status).toBe(200);
    const over = await post(router, [{ query: '{ hello }' }], token);
    expect(over.status).toBe(429);
    const another = await issuer.sign({ sub: 'dave', tid: 't-batch' });
    // A request whose aliases alone exceed what is left is refused whole.
    expect((await post(router, { query: '{ a: hello b: hello c: hello d: hello }' }, another)).status).toBe(
      200,
    );
    expect((await post(router, { query: '{ a: hello b: hello }' }, another)).status).toBe(429);
    expect((await post(router, { query: '{ hello }' }, another)).status).toBe(200);
  });

  it('limits anonymous requests per IP address', async () => {
    const router = await start({ requestsPerMinutePerIp: 4 });
    for (let i = 0; i < 4; i++) expect((await post(router, { query: '{ hello }' })).status).toBe(200);
    const refused = await post(router, { query: '{ hello }' });
    expect([refused.status, refused.error?.extensions?.code, refused.error?.extensions?.scope]).toEqual([
      429,
      'RATE_LIMITED',
      'ip',
    ]);
  });

  it('one noisy tenant spends its own budget; another tenant is unaffected; overrides apply per tenant', async () => {
    const router = await start({
      requestsPerMinutePerTenant: 4,
      tenantOverrides: { 't-big': { requestsPerMinutePerTenant: 20 } },
    });
    const noisy = await issuer.sign({ sub: 'n1', tid: 't-noisy' });
    const noisy2 = await issuer.sign({ sub: 'n2', tid: 't-noisy' });
    const quiet = await issuer.sign({ sub: 'q1', tid: 't-quiet' });
    const big = await issuer.sign({ sub: 'b1', tid: 't-big' });
    for (let i = 0; i < 4; i++) expect((await post(router, { query: '{ hello }' }, noisy)).status).toBe(200);
    const refused = await post(router, { query: '{ hello }' }, noisy2);
    expect([refused.status, refused.error?.extensions?.scope]).toEqual([429, 'tenant']);
    expect((await post(router, { query: '{ hello }' }, quiet)).status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await post(router, { query: '{ hello }' }, big)).status).toBe(200);
  });
});

describe('WebSocket quotas per user', () => {
  type Socket = { ws: WebSocket; closed: Promise<{ code: number; reason: string }>; messages: unknown[] };
  async function connect(router: RunningRouter, token: string): Promise<Socket> {
    const ws = new WebSocket(router.wsUrl, 'graphql-transport-ws');
    const messages: unknown[] = [];
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    await new Promise((r) => ws.once('open', r));
    ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
    ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
    await Promise.race([
      new Promise<void>((resolve) => {
        const check = () => (messages.length ? resolve() : setTimeout(check, 5));
        check();
      }),
      closed,
    ]);
    return { ws, closed, messages };
  }
  const subscribe = (s: Socket, id: string) =>
    s.ws.send(
      JSON.stringify({
        id,
        type: 'subscribe',
        payload: { query: 'subscription { ticks(n: 1000, intervalMs: 50) }' },
      }),
    );

  it("a fresh router's very first operation may arrive over a WebSocket", async () => {
    const router = await start({});
    const s = await connect(router, await issuer.sign({ sub: 'first', tid: 't-rate' }));
    s.ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ hello }' } }));
    const deadline = Date.now() + 5_000;
    while (!s.messages.some((m) => (m as { type: string }).type === 'complete') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    expect(s.messages).toContainEqual(expect.objectContaining({ id: '1', type: 'next' }));
    expect(JSON.stringify(s.messages)).not.toContain('error');
    s.ws.close();
  });

  it("closes a user's extra socket with 4429; the slot is free again once one closes", async () => {
    const router = await start({ maxConnectionsPerUser: 2 });
    const token = await issuer.sign({ sub: 'eve', tid: 't-ws' });
    const a = await connect(router, token);
    const b = await connect(router, token);
    expect(a.messages[0]).toEqual({ type: 'connection_ack' });
    expect(b.messages[0]).toEqual({ type: 'connection_ack' });
    const c = await connect(router, token);
    const closed = await c.closed;
    expect(closed.code).toBe(4429);
    expect(closed.reason).toMatch(/at most 2 open sockets per user/);
    // Another user is not affected.
    const other = await connect(router, await issuer.sign({ sub: 'frank', tid: 't-ws' }));
    expect(other.messages[0]).toEqual({ type: 'connection_ack' });
    a.ws.close();
    await a.closed;
    await new Promise((r) => setTimeout(r, 50));
    const d = await connect(router, token);
    expect(d.messages[0]).toEqual({ type: 'connection_ack' });
    for (const s of [b, d, other]) s.ws.close();
  });

  it('counts subscriptions per user across sockets and closes the socket that goes over with 4429', async () => {
    const router = await start({ maxSubscriptionsPerUser: 3, maxSubscriptionsPerConnection: 10 });
    const token = await issuer.sign({ sub: 'grace', tid: 't-subs' });
    const a = await connect(router, token);
    const b = await connect(router, token);
    subscribe(a, '1');
    subscribe(a, '2');
    subscribe(b, '1');
    await new Promise((r) => setTimeout(r, 200));
    subscribe(b, '2');
    const closed = await b.closed;
    expect(closed.code).toBe(4429);
    expect(closed.reason).toMatch(/at most 3 active subscriptions per user/);
    // b's slot is given back with its socket: a can take one more, then no more.
    await new Promise((r) => setTimeout(r, 50));
    subscribe(a, '3');
    await new Promise((r) => setTimeout(r, 200));
    expect(a.ws.readyState).toBe(WebSocket.OPEN);
    subscribe(a, '4');
    expect((await a.closed).code).toBe(4429);
  });

  it('limits subscribe messages per second per user over all their sockets (4429)', async () => {
    const router = await start({
      socketOperationsPerSecondPerUser: 5,
      wsMessagesPerSecond: 1000,
      wsMessageBurst: 1000,
    });
    const token = await issuer.sign({ sub: 'heidi', tid: 't-rate' });
    const a = await connect(router, token);
    const b = await connect(router, token);
    for (let i = 0; i < 3; i++)
      a.ws.send(JSON.stringify({ id: `a${i}`, type: 'subscribe', payload: { query: '{ hello }' } }));
    for (let i = 0; i < 3; i++)
      b.ws.send(JSON.stringify({ id: `b${i}`, type: 'subscribe', payload: { query: '{ hello }' } }));
    const first = await Promise.race([a.closed, b.closed]);
    expect(first.code).toBe(4429);
    expect(first.reason).toMatch(/operations per second per user/);
  });
});
