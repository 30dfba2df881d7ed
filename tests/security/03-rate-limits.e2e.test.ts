import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { resolve } from 'node:path';
import { claimsFromAccessTokenPayload } from '@somaagent/identity';
import { OpenAICompatibleChatModel } from '@somaagent/models';
import { RedisRateLimiter } from '@somaagent/redis';
import { createRouter, type RunningRouter } from '@somaagent/router';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestPlatform, type TestPlatform } from '../support/platform';

/**
 * Issue 14, item 3: quotas and rate limits per IP, per user / API key and per tenant, through
 * the running platform over real sockets: 429 RATE_LIMITED with retryAfter, batches and
 * aliases counted as work, a noisy tenant that cannot spend another tenant's budget, WebSocket
 * connection and subscription caps per user (4429), concurrent generations per user and per
 * tenant (against the harness's llama-server), and two router replicas sharing their counters
 * through the harness's Redis.
 */
const baseUrl = process.env.SOMA_LLM_BASE_URL;
const model = process.env.SOMA_LLM_MODEL;
const llmKey = process.env.SOMA_LLM_API_KEY ?? 'not-needed';
const redisUrl = process.env.SOMA_REDIS_URL;
if (!baseUrl || !model)
  throw new Error('the test harness did not provide the llm engine (SOMA_LLM_BASE_URL)');
if (!redisUrl) throw new Error('the test harness did not provide the redis engine (SOMA_REDIS_URL)');

const ISSUER = 'http://somaagent.test';
const routerSecret = randomBytes(32).toString('base64url');
let p: TestPlatform;

beforeAll(async () => {
  p = await startTestPlatform({
    routerSecret,
    models: { OPENAI_COMPATIBLE: OpenAICompatibleChatModel.fromUrl(baseUrl, llmKey) },
    limits: {
      // Every test client is 127.0.0.1: the IP budget is tested on the replicas below.
      requestsPerMinutePerIp: 100_000,
      requestsPerMinutePerSubject: 40,
      requestsPerMinutePerTenant: 60,
      maxConnectionsPerUser: 2,
      maxSubscriptionsPerUser: 3,
      maxSubscriptionsPerConnection: 10,
    },
    sessionsLimits: { maxConcurrentGenerationsPerUser: 1, maxConcurrentGenerationsPerTenant: 2 },
  });
});
afterAll(async () => {
  await p?.[Symbol.asyncDispose]();
});

interface Answer {
  status: number;
  retryAfterHeader: string | null;
  // biome-ignore lint/suspicious/noExplicitAny: response shapes are checked by assertions
  body: any;
  code: string | undefined;
  extensions: Record<string, unknown> | undefined;
}

/**
 * One POST over real HTTP. `from` picks the client's source address: all of 127.0.0.0/8 is
 * loopback, so 127.0.0.2 and 127.0.0.3 are two different client IPs to the router.
 */
function post(
  url: string,
  body: unknown,
  token?: string,
  from = '127.0.0.1',
  headers: Record<string, string> = {},
): Promise<Answer> {
  const payload = JSON.stringify(body);
  return new Promise((resolvePost, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        localAddress: from,
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          const extensions = Array.isArray(json) ? undefined : json.errors?.[0]?.extensions;
          resolvePost({
            status: res.statusCode ?? 0,
            retryAfterHeader: (res.headers['retry-after'] as string | undefined) ?? null,
            body: json,
            code: extensions?.code,
            extensions,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** One operation of `n` root fields (aliases of `viewer`): it costs n units. */
const aliases = (n: number) => ({
  query: `{ ${Array.from({ length: n }, (_, i) => `v${i}: viewer { __typename }`).join(' ')} }`,
});

async function apiKeyToken(adminToken: string, name: string): Promise<string> {
  const created = await p.gql(
    'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }',
    { i: { name, capabilities: ['sessions:read', 'sessions:write', 'personas:write'] } },
    adminToken,
  );
  if (!created.data) throw new Error(JSON.stringify(created.errors));
  const exchanged = await p.gql('mutation($s: String!) { exchangeApiKey(secret: $s) { accessToken } }', {
    s: created.data.createApiKey.secret,
  });
  if (!exchanged.data) throw new Error(JSON.stringify(exchanged.errors));
  return exchanged.data.exchangeApiKey.accessToken;
}

function expectRateLimited(answer: Answer, scope: string) {
  expect([answer.status, answer.code, answer.extensions?.scope]).toEqual([429, 'RATE_LIMITED', scope]);
  const retryAfter = answer.extensions?.retryAfter as number;
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(answer.retryAfterHeader).toBe(String(retryAfter));
}

describe('request budgets at the router', () => {
  it('counts each operation of a batch and each root alias; over budget: 429 RATE_LIMITED, retryAfter, Retry-After', async () => {
    const t = await p.createTenant('rl-batch');
    // 4 operations of 10 aliases = the subject's 40 units in one request.
    const batch = await post(
      p.platform.url,
      [aliases(10), aliases(10), aliases(10), aliases(10)],
      t.adminToken,
    );
    expect(batch.status).toBe(200);
    expect(batch.body).toHaveLength(4);
    const over = await post(p.platform.url, aliases(1), t.adminToken);
    expectRateLimited(over, 'subject');
    expect(JSON.stringify(over.body)).toMatch(/40 units of work per minute/);
    // Nothing of a refused request runs, batches included.
    expectRateLimited(await post(p.platform.url, [aliases(1), aliases(1)], t.adminToken), 'subject');
  });

  it('a noisy tenant exhausts its own budget; another tenant is unaffected', async () => {
    const a = await p.createTenant('rl-noisy');
    const b = await p.createTenant('rl-quiet');
    const aKey = await apiKeyToken(a.adminToken, 'second-subject');
    // Tenant A: its admin spends the subject budget (40), its API key the rest of the tenant's 60.
    for (let i = 0; i < 3; i++)
      expect((await post(p.platform.url, aliases(10), a.adminToken)).status).toBe(200);
    expect((await post(p.platform.url, aliases(10), aKey)).status).toBe(200);
    expect((await post(p.platform.url, aliases(10), aKey)).status).toBe(200);
    // 1 (createApiKey) + 30 + 20 = 51 spent: 10 more do not fit, and a refused request spends
    // nothing, so exactly the 9 left still do.
    expectRateLimited(await post(p.platform.url, aliases(10), aKey), 'tenant');
    expect((await post(p.platform.url, aliases(9), aKey)).status).toBe(200);
    expectRateLimited(await post(p.platform.url, aliases(1), aKey), 'tenant');
    // The admin's own budget (31 of 40 spent) has room; the tenant's has not.
    expectRateLimited(await post(p.platform.url, aliases(1), a.adminToken), 'tenant');
    // Tenant B, same IP, same moment: served.
    for (let i = 0; i < 3; i++) {
      const served = await post(p.platform.url, aliases(5), b.adminToken);
      expect([served.status, served.body.errors]).toEqual([200, undefined]);
    }
  });
});

type Socket = {
  ws: WebSocket;
  closed: Promise<{ code: number; reason: string }>;
  messages: { type: string }[];
};
async function connect(wsUrl: string, token: string): Promise<Socket> {
  const ws = new WebSocket(wsUrl, 'graphql-transport-ws');
  const messages: { type: string }[] = [];
  const closed = new Promise<{ code: number; reason: string }>((r) =>
    ws.on('close', (code, reason) => r({ code, reason: reason.toString() })),
  );
  await new Promise((r) => ws.once('open', r));
  ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
  ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
  const acked = new Promise<void>((r) => {
    const check = () => (messages.length ? r() : setTimeout(check, 5));
    check();
  });
  await Promise.race([acked, closed]);
  return { ws, closed, messages };
}

const createPersona = async (token: string, maxTokens: number) => {
  const r = await p.gql(
    'mutation($i: CreatePersonaInput!) { createPersona(input: $i) { id } }',
    {
      i: {
        name: `p-${randomBytes(3).toString('hex')}`,
        model,
        systemPrompt: 'You are a test persona.',
        maxTokens,
      },
    },
    token,
  );
  if (!r.data) throw new Error(JSON.stringify(r.errors));
  return r.data.createPersona.id as string;
};
const startSession = async (token: string, personaId: string) => {
  const r = await p.gql(
    'mutation($i: StartSessionInput!) { startSession(input: $i) { id } }',
    { i: { personaId } },
    token,
  );
  if (!r.data) throw new Error(JSON.stringify(r.errors));
  return r.data.startSession.id as string;
};

describe('WebSocket quotas per user', () => {
  it('a third socket of one user is closed with 4429; another user is unaffected', async () => {
    const t = await p.createTenant('rl-sockets');
    const a = await connect(p.platform.wsUrl, t.adminToken);
    const b = await connect(p.platform.wsUrl, t.adminToken);
    expect([a.messages[0]?.type, b.messages[0]?.type]).toEqual(['connection_ack', 'connection_ack']);
    const c = await connect(p.platform.wsUrl, t.adminToken);
    const closed = await c.closed;
    expect(closed.code).toBe(4429);
    expect(closed.reason).toMatch(/at most 2 open sockets per user; retry after \d+ s/);
    const key = await apiKeyToken(t.adminToken, 'ws-other');
    const other = await connect(p.platform.wsUrl, key);
    expect(other.messages[0]?.type).toBe('connection_ack');
    // A closed socket gives its slot back.
    a.ws.close();
    await a.closed;
    await new Promise((r) => setTimeout(r, 100));
    const again = await connect(p.platform.wsUrl, t.adminToken);
    expect(again.messages[0]?.type).toBe('connection_ack');
    for (const s of [b, other, again]) s.ws.close();
  });

  it('subscriptions count per user across sockets: the one over the cap closes its socket with 4429', async () => {
    const t = await p.createTenant('rl-subs');
    const sessionId = await startSession(t.adminToken, await createPersona(t.adminToken, 16));
    const subscribe = (s: Socket, id: string) =>
      s.ws.send(
        JSON.stringify({
          id,
          type: 'subscribe',
          payload: {
            query: 'subscription($s: ID!) { sessionEvents(sessionId: $s) { type } }',
            variables: { s: sessionId },
          },
        }),
      );
    const a = await connect(p.platform.wsUrl, t.adminToken);
    const b = await connect(p.platform.wsUrl, t.adminToken);
    subscribe(a, '1');
    subscribe(a, '2');
    subscribe(b, '1');
    await new Promise((r) => setTimeout(r, 300));
    expect([a.ws.readyState, b.ws.readyState]).toEqual([WebSocket.OPEN, WebSocket.OPEN]);
    subscribe(b, '2');
    const closed = await b.closed;
    expect(closed.code).toBe(4429);
    expect(closed.reason).toMatch(/at most 3 active subscriptions per user/);
    // b's subscription was given back with its socket: a may hold a third, not a fourth.
    await new Promise((r) => setTimeout(r, 100));
    subscribe(a, '3');
    await new Promise((r) => setTimeout(r, 300));
    expect(a.ws.readyState).toBe(WebSocket.OPEN);
    subscribe(a, '4');
    expect((await a.closed).code).toBe(4429);
  });
});

describe('concurrent generations', () => {
  const SEND = `mutation($i: SendMessageInput!) { sendMessage(input: $i) { assistantMessage { id } } }`;
  const sendMessage = (token: string, sessionId: string) =>
    post(
      p.platform.url,
      { query: SEND, variables: { i: { sessionId, content: 'Write a very long story.' } } },
      token,
    );
  const cancel = (token: string, sessionId: string) =>
    p.gql('mutation($s: ID!) { cancelGeneration(sessionId: $s) { id } }', { s: sessionId }, token);

  it('per user and per tenant: RATE_LIMITED with retryAfter while busy, served again once an answer ends; other tenants unaffected', async () => {
    const t = await p.createTenant('rl-gen');
    const other = await p.createTenant('rl-gen-other');
    const key1 = await apiKeyToken(t.adminToken, 'gen-1');
    const key2 = await apiKeyToken(t.adminToken, 'gen-2');
    const persona = await createPersona(t.adminToken, 4096);
    const [s1, s2, s3, s4] = [
      await startSession(t.adminToken, persona),
      await startSession(t.adminToken, persona),
      await startSession(key1, persona),
      await startSession(key2, persona),
    ] as [string, string, string, string];
    const otherSession = await startSession(other.adminToken, await createPersona(other.adminToken, 4096));

    expect((await sendMessage(t.adminToken, s1)).status).toBe(200);
    // The same user, another session: over the per-user quota of 1.
    const busyUser = await sendMessage(t.adminToken, s2);
    expect([busyUser.status, busyUser.code, busyUser.extensions?.scope]).toEqual([
      429,
      'RATE_LIMITED',
      'user',
    ]);
    expect(busyUser.extensions?.retryAfter).toBeGreaterThanOrEqual(1);
    // Another subject of the tenant takes the tenant's second slot; a third subject is refused.
    expect((await sendMessage(key1, s3)).status).toBe(200);
    const busyTenant = await sendMessage(key2, s4);
    expect([busyTenant.status, busyTenant.code, busyTenant.extensions?.scope]).toEqual([
      429,
      'RATE_LIMITED',
      'tenant',
    ]);
    // Another tenant generates meanwhile.
    expect((await sendMessage(other.adminToken, otherSession)).status).toBe(200);

    // Once the user's answer ends (cancelled here), the user may start another.
    await cancel(t.adminToken, s1);
    let retried: Answer | undefined;
    for (const deadline = Date.now() + 5_000; Date.now() < deadline; ) {
      retried = await sendMessage(t.adminToken, s2);
      if (retried.status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(retried?.status).toBe(200);
    for (const [token, s] of [
      [t.adminToken, s2],
      [key1, s3],
      [other.adminToken, otherSession],
    ] as const)
      await cancel(token, s);
  });
});

describe('two router replicas on one Redis', () => {
  const prefix = `soma:rl:e2e-${randomBytes(4).toString('hex')}:`;
  const clients: Redis[] = [];
  const replicas: RunningRouter[] = [];

  beforeAll(async () => {
    const identityJwks = p.platform.subgraphUrls.identity!.replace(/\/graphql$/, '/.well-known/jwks.json');
    const supergraphSdl = readFileSync(
      resolve(import.meta.dirname, '../../schema/supergraph.graphql'),
      'utf8',
    );
    for (let i = 0; i < 2; i++) {
      const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
      clients.push(redis);
      replicas.push(
        await createRouter({
          supergraphSdl,
          subgraphUrls: p.platform.subgraphUrls,
          routerSecret,
          issuers: [
            {
              issuer: ISSUER,
              jwksUrl: identityJwks,
              audience: 'somaagent',
              toClaims: claimsFromAccessTokenPayload,
            },
          ],
          rateLimiter: new RedisRateLimiter(redis, { keyPrefix: prefix }),
          limits: { requestsPerMinutePerIp: 8, requestsPerMinutePerSubject: 6, maxConnectionsPerUser: 1 },
        }),
      );
    }
  });
  afterAll(async () => {
    for (const r of replicas) await r.close();
    for (const c of clients) c.disconnect();
  });

  it('anonymous requests spend one per-IP budget between both replicas; another IP is unaffected', async () => {
    const [a, b] = replicas as [RunningRouter, RunningRouter];
    for (let i = 0; i < 4; i++) {
      expect((await post(a.url, aliases(1), undefined, '127.0.0.2')).status).toBe(200);
      expect((await post(b.url, aliases(1), undefined, '127.0.0.2')).status).toBe(200);
    }
    expectRateLimited(await post(a.url, aliases(1), undefined, '127.0.0.2'), 'ip');
    expectRateLimited(await post(b.url, aliases(1), undefined, '127.0.0.2'), 'ip');
    // A token does not lift the IP's budget (it is spent before the token is even verified).
    expectRateLimited(await post(b.url, aliases(1), await p.platformToken(), '127.0.0.2'), 'ip');
    expect((await post(a.url, aliases(1), undefined, '127.0.0.3')).status).toBe(200);
  });

  it("a user's budget and socket slots are shared by both replicas", async () => {
    const [a, b] = replicas as [RunningRouter, RunningRouter];
    const t = await p.createTenant('rl-replicas');
    for (let i = 0; i < 3; i++) {
      expect((await post(a.url, aliases(1), t.adminToken)).status).toBe(200);
      expect((await post(b.url, aliases(1), t.adminToken)).status).toBe(200);
    }
    expectRateLimited(await post(b.url, aliases(1), t.adminToken), 'subject');
    const first = await connect(a.wsUrl, t.adminToken);
    expect(first.messages[0]?.type).toBe('connection_ack');
    const second = await connect(b.wsUrl, t.adminToken);
    expect((await second.closed).code).toBe(4429);
    first.ws.close();
  });
});

describe('behind a trusted reverse proxy', () => {
  let proxied: RunningRouter;
  beforeAll(async () => {
    proxied = await createRouter({
      supergraphSdl: readFileSync(resolve(import.meta.dirname, '../../schema/supergraph.graphql'), 'utf8'),
      subgraphUrls: p.platform.subgraphUrls,
      routerSecret,
      issuers: [],
      // The proxy is 127.0.0.4; 127.0.0.5 is any other client.
      trustedProxies: ['127.0.0.4/32'],
      limits: { requestsPerMinutePerIp: 4 },
    });
  });
  afterAll(async () => {
    await proxied?.close();
  });
  const via = (from: string, forwardedFor: string) =>
    post(proxied.url, aliases(1), undefined, from, { 'x-forwarded-for': forwardedFor });

  it("the proxy's X-Forwarded-For names the client: each client behind it has its own per-IP budget", async () => {
    for (let i = 0; i < 4; i++) expect((await via('127.0.0.4', '198.51.100.7')).status).toBe(200);
    expectRateLimited(await via('127.0.0.4', '198.51.100.7'), 'ip');
    // Another client behind the same proxy is unaffected; a spoofed hop left of the client changes nothing.
    expect((await via('127.0.0.4', '198.51.100.8')).status).toBe(200);
    expectRateLimited(await via('127.0.0.4', '203.0.113.66, 198.51.100.7'), 'ip');
  });

  it('anyone else cannot choose a budget with X-Forwarded-For: it is ignored', async () => {
    for (let i = 0; i < 4; i++) expect((await via('127.0.0.5', `192.0.2.${i}`)).status).toBe(200);
    expectRateLimited(await via('127.0.0.5', '192.0.2.200'), 'ip');
  });

  it('a malformed header from the proxy counts against the proxy hop it came through, not a made-up client', async () => {
    for (let i = 0; i < 4; i++) expect((await via('127.0.0.4', 'not-an-ip')).status).toBe(200);
    expectRateLimited(await via('127.0.0.4', 'garbage, also garbage'), 'ip');
  });
});
