import { randomBytes } from 'node:crypto';
import type { RunningSubgraph } from '@somaagent/subgraph-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeSupergraph } from '../src/compose/composeSupergraph';
import { createRouter, type RunningRouter } from '../src/createRouter';
import { demoSdl, serveDemoSubgraph } from './fixtures/demoSubgraph';

// The slow-client attack itself is tests/security/07-slow-clients.e2e.test.ts; this checks that
// the request timeout bounds receiving a request only, never a long answer.
const secret = randomBytes(32).toString('base64url');
let subgraph: RunningSubgraph;
let router: RunningRouter;

beforeAll(async () => {
  subgraph = await serveDemoSubgraph(secret);
  router = await createRouter({
    supergraphSdl: composeSupergraph([
      { name: 'demo', routingUrl: 'http://127.0.0.1:1/graphql', schemaFile: 'demo.graphql', sdl: demoSdl },
    ]),
    subgraphUrls: { demo: subgraph.url },
    routerSecret: secret,
    issuers: [],
    limits: { headersTimeoutMs: 500, requestTimeoutMs: 1000 },
  });
});
afterAll(async () => {
  await router?.close();
  await subgraph?.close();
});

describe('router timeouts', () => {
  it('an answer streamed for longer than the request timeout is not cut', async () => {
    const started = performance.now();
    const res = await fetch(router.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription { ticks(n: 6, intervalMs: 400) }' }),
    });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text.match(/"ticks":/g)).toHaveLength(6);
    expect(performance.now() - started).toBeGreaterThan(2000);
  });
});
