// Issue 14 item 6: a captured router → subgraph request cannot be executed twice.
//
// The attacker sits on the network between the router and the identity subgraph (a recording
// proxy, as a tap on a private network would), lets the router's signed requests through, then
// sends each captured request again, byte for byte, to the real subgraph server: within the
// signature's 60-s window the signature alone would still verify; the nonce is what refuses it.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { claimsFromAccessTokenPayload } from '@somaagent/identity';
import { ROUTER_ENVELOPE_EXTENSION, signRouterEnvelope } from '@somaagent/internal-auth';
import { RedisNonceStore } from '@somaagent/redis';
import { createRouter, type RunningRouter } from '@somaagent/router';
import { serveSubgraph } from '@somaagent/subgraph-server';
import { parse } from 'graphql';
import { createClient } from 'graphql-ws';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { gql, startTestPlatform, type TestPlatform } from '../support/platform';

interface CaptureProxy {
  url: string;
  /** Raw bodies of the POST /graphql requests the router sent, in order. */
  posts: string[];
  /** Raw graphql-ws `subscribe` frames the router sent, in order. */
  subscribes: string[];
  close(): Promise<void>;
}

/** A transparent HTTP + WebSocket relay to `upstream` that keeps a copy of what the router sent. */
async function startCaptureProxy(upstream: string): Promise<CaptureProxy> {
  const posts: string[] = [];
  const subscribes: string[] = [];
  const target = new URL(upstream);
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    if (req.method === 'POST') posts.push(body);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (typeof v === 'string' && !['host', 'content-length', 'connection'].includes(k)) headers[k] = v;
    }
    const answer = await fetch(new URL(req.url ?? '/', target), {
      method: req.method ?? 'GET',
      headers,
      ...(req.method === 'POST' ? { body } : {}),
    });
    res.writeHead(answer.status, {
      'content-type': answer.headers.get('content-type') ?? 'application/json',
    });
    res.end(Buffer.from(await answer.arrayBuffer()));
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (client, req) => {
    const wsUpstream = new WebSocket(
      new URL(req.url ?? '/graphql', target.href.replace(/^http/, 'ws')),
      client.protocol,
    );
    const pending: string[] = [];
    wsUpstream.on('open', () => {
      for (const frame of pending.splice(0)) wsUpstream.send(frame);
    });
    client.on('message', (data) => {
      const frame = String(data);
      if ((JSON.parse(frame) as { type?: string }).type === 'subscribe') subscribes.push(frame);
      if (wsUpstream.readyState === WebSocket.OPEN) wsUpstream.send(frame);
      else pending.push(frame);
    });
    wsUpstream.on('message', (data) => client.send(String(data)));
    client.on('close', () => wsUpstream.close());
    wsUpstream.on('close', () => client.close());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    posts,
    subscribes,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const routerSecret = randomBytes(32).toString('base64url');
let t: TestPlatform;
let proxy: CaptureProxy;
let router: RunningRouter;
let tenant: Awaited<ReturnType<TestPlatform['createTenant']>>;

beforeAll(async () => {
  // The platform's subgraph servers, signed HTTP transport, and a known router secret.
  t = await startTestPlatform({ subgraphTransport: 'http', routerSecret });
  tenant = await t.createTenant('replay');
  proxy = await startCaptureProxy(t.platform.subgraphUrls.identity!);
  // The real router code, reaching identity through the tap and the other subgraphs directly.
  router = await createRouter({
    supergraphSdl: readFileSync(resolve(import.meta.dirname, '../../schema/supergraph.graphql'), 'utf8'),
    subgraphUrls: { ...t.platform.subgraphUrls, identity: proxy.url },
    routerSecret,
    issuers: [
      {
        issuer: 'http://somaagent.test',
        audience: 'somaagent',
        jwksUrl: t.platform.subgraphUrls.identity!.replace(/\/graphql$/, '/.well-known/jwks.json'),
        toClaims: claimsFromAccessTokenPayload,
      },
    ],
  });
});
afterAll(async () => {
  await router?.close();
  await proxy?.close();
  await t?.[Symbol.asyncDispose]();
});

const keyCount = async () =>
  (await t.gql('{ apiKeys { totalCount } }', {}, tenant.adminToken)).data.apiKeys.totalCount as number;

describe('06 replay-proof subgraph calls', () => {
  it('HTTP: a captured signed mutation runs once; the identical replay is 401', async () => {
    const before = await keyCount();
    const created = await gql(
      router.url,
      'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { id name } } }',
      { i: { name: 'captured', capabilities: ['identity:users:read'] } },
      tenant.adminToken,
    );
    expect(created.errors).toBeUndefined();
    expect(created.data.createApiKey.apiKey.name).toBe('captured');
    expect(await keyCount()).toBe(before + 1);

    const captured = proxy.posts.find((b) => b.includes('createApiKey'));
    expect(captured, 'the router sent createApiKey through the tap').toBeDefined();
    const envelope = (JSON.parse(captured!) as { extensions: { somaRouter: { nonce: string; iat: number } } })
      .extensions.somaRouter;
    expect(envelope.nonce).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    // Still inside the signature's validity window: only the nonce can refuse it.
    expect(Math.abs(Date.now() / 1000 - envelope.iat)).toBeLessThan(30);

    for (let attempt = 0; attempt < 2; attempt++) {
      const replay = await fetch(t.platform.subgraphUrls.identity!, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: captured!,
      });
      expect(replay.status).toBe(401);
      const body = (await replay.json()) as { errors: { message: string; extensions: { code: string } }[] };
      expect(body.errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
      expect(body.errors[0]!.message).toMatch(/already used/);
    }
    expect(await keyCount()).toBe(before + 1);
  });

  it('HTTP: every captured request of a session of ordinary traffic is refused on replay', async () => {
    proxy.posts.length = 0;
    for (let i = 0; i < 5; i++) {
      const r = await gql(
        router.url,
        '{ viewer { __typename } users { totalCount } }',
        {},
        tenant.adminToken,
      );
      expect(r.errors).toBeUndefined();
    }
    expect(proxy.posts.length).toBeGreaterThanOrEqual(5);
    for (const body of proxy.posts) {
      const replay = await fetch(t.platform.subgraphUrls.identity!, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(replay.status).toBe(401);
    }
  });

  it('graphql-ws: a captured signed subscribe is accepted once, its replay gets UNAUTHENTICATED', async () => {
    const client = createClient({
      url: router.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${tenant.adminToken}` },
      retryAttempts: 0,
    });
    const events: unknown[] = [];
    const firstEvent = new Promise<void>((resolveEvent, reject) => {
      client.subscribe(
        { query: 'subscription { identityEvents { type } }' },
        {
          next: (value) => {
            events.push(value);
            resolveEvent();
          },
          error: reject,
          complete: () => {},
        },
      );
    });
    // The subscription is live at the subgraph once the router's subscribe went through the tap.
    for (let i = 0; i < 100 && proxy.subscribes.length === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(proxy.subscribes).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 200));
    const made = await t.gql(
      'mutation($i: CreateUserInput!) { createUser(input: $i) { id } }',
      { i: { email: 'watched@replay.test', displayName: 'Watched', password: 'long-enough-password' } },
      tenant.adminToken,
    );
    expect(made.errors).toBeUndefined();
    await firstEvent;
    // Creating a user emits identity events (which ones is identity's business): one arrived.
    expect(events[0]).toEqual({ data: { identityEvents: { type: expect.any(String) } } });
    await client.dispose();

    // The attacker's own graphql-ws connection to the real subgraph, replaying the frame.
    const direct = new WebSocket(
      t.platform.subgraphUrls.identity!.replace(/^http/, 'ws'),
      'graphql-transport-ws',
    );
    type Frame = { type: string; id?: string; payload?: unknown };
    const next = () =>
      new Promise<Frame>((resolveFrame, reject) => {
        const timer = setTimeout(() => reject(new Error('no frame within 5 s')), 5000);
        direct.once('message', (data) => {
          clearTimeout(timer);
          resolveFrame(JSON.parse(String(data)));
        });
      });
    await new Promise((r) => direct.once('open', r));
    direct.send(JSON.stringify({ type: 'connection_init' }));
    expect((await next()).type).toBe('connection_ack');
    direct.send(proxy.subscribes[0]!);
    const answer = await next();
    expect(answer.type).toBe('error');
    expect(answer.payload).toEqual([
      expect.objectContaining({
        message: expect.stringMatching(/already used/),
        extensions: { code: 'UNAUTHENTICATED' },
      }),
    ]);
    direct.close();
  });

  it('distributed: replicas of a subgraph sharing a RedisNonceStore refuse a request replayed to the other one', async () => {
    const redis = new Redis(inject('redis').url, { maxRetriesPerRequest: 1 });
    let runs = 0;
    const schema = buildSubgraphSchema([
      {
        typeDefs: parse('type Query { ping: Int! } type Mutation { bump: Int! }'),
        resolvers: { Query: { ping: () => runs }, Mutation: { bump: () => ++runs } },
      },
    ]);
    const nonces = new RedisNonceStore(redis, { keyPrefix: `soma:nonce:06-${process.pid}-${Date.now()}:` });
    const replicas = await Promise.all(
      ['a', 'b'].map((name) =>
        serveSubgraph({ name, schema, routerSecret, nonces, createContext: () => ({}) }),
      ),
    );
    try {
      // Signed exactly as the router's useSignedSubgraphRequests signs.
      const query = 'mutation { bump }';
      const body = JSON.stringify({
        query,
        extensions: { [ROUTER_ENVELOPE_EXTENSION]: signRouterEnvelope(routerSecret, { query }, null) },
      });
      const send = (url: string) =>
        fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const first = await send(replicas[0]!.url);
      expect(first.status).toBe(200);
      expect(await first.json()).toEqual({ data: { bump: 1 } });
      for (const replica of replicas) {
        const replay = await send(replica.url);
        expect(replay.status).toBe(401);
        expect(((await replay.json()) as { errors: { message: string }[] }).errors[0]!.message).toMatch(
          /already used/,
        );
      }
      expect(runs).toBe(1);
    } finally {
      for (const replica of replicas) await replica.close();
      redis.disconnect();
    }
  });
});
