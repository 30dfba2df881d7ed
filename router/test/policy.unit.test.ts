import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { InProcessEventBus } from '@somaagent/events';
import {
  AUDIT_TOPIC,
  createPolicyDecider,
  OpaServerPolicyEvaluator,
  type PolicyDecisionAudit,
  WasmPolicyEvaluator,
} from '@somaagent/policy';
import type { EventEnvelope } from '@somaagent/ports';
import type { RunningSubgraph } from '@somaagent/subgraph-server';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { composeSupergraph } from '../src/compose/composeSupergraph';
import { createRouter, type RunningRouter } from '../src/createRouter';
import { readPolicyDirectives } from '../src/plugins/usePolicyDirectives';
import { policySdl, reached, servePolicySubgraph } from './fixtures/policySubgraph';
import { startTestIssuer } from './fixtures/testIssuer';

/**
 * The router enforcing the policy directives with the in-process (wasm) evaluator of the
 * committed Rego, in front of a real subgraph, over real HTTP and WebSocket. (The OPA server
 * evaluator decides identically: packages/policy/test/policyEvaluator.contract.test.ts.)
 */
const secret = randomBytes(32).toString('base64url');
const supergraphSdl = composeSupergraph([
  { name: 'policy', routingUrl: 'http://127.0.0.1:1/graphql', schemaFile: 'policy.graphql', sdl: policySdl },
]);
const compiledData = JSON.parse(
  readFileSync(new URL('../../packages/policy/compiled/data.json', import.meta.url), 'utf8'),
) as { somaagent: { constitutions: { default: object; tenants: Record<string, object> } } };

/** The policy data of these tests: the compiled constitutions plus test tenants. */
const testData = (extraTenants: Record<string, object> = {}) => ({
  somaagent: {
    constitutions: {
      ...compiledData.somaagent.constitutions,
      tenants: {
        'tenant-ro': { readOnly: true },
        'tenant-small': { allowedModels: ['soma-tiny'], maxTokensPerRequest: 256 },
        ...extraTenants,
      },
    },
  },
});

let issuer: Awaited<ReturnType<typeof startTestIssuer>>;
let subgraph: RunningSubgraph;
let evaluator: WasmPolicyEvaluator;
let router: RunningRouter;
const audit = new InProcessEventBus();
const auditEvents: EventEnvelope[] = [];
const common = () => ({
  supergraphSdl,
  subgraphUrls: { policy: subgraph.url },
  routerSecret: secret,
  issuers: [
    {
      ...issuer.trusted,
      // Tokens of this test carry their capabilities and tenant in `caps` / `tenant`.
      toClaims: (payload: Record<string, unknown>, iss: string) => ({
        ...issuer.trusted.toClaims(payload, iss),
        capabilities: (payload.caps as string[] | undefined) ?? [],
        tenantId: (payload.tenant as string | undefined) ?? 'tenant-1',
      }),
    },
  ],
});

beforeAll(async () => {
  issuer = await startTestIssuer();
  subgraph = await servePolicySubgraph(secret);
  evaluator = await WasmPolicyEvaluator.load({ data: testData() });
  router = await createRouter({
    ...common(),
    policy: { decider: createPolicyDecider({ evaluator, audit }) },
  });
  (async () => {
    for await (const event of audit.subscribe(AUDIT_TOPIC)) auditEvents.push(event);
  })();
});

afterAll(async () => {
  await router?.close();
  await subgraph?.close();
  await issuer?.close();
  await audit[Symbol.asyncDispose]();
});

async function post(query: string, token?: string, target = router, variables: Record<string, unknown> = {}) {
  const res = await fetch(target.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const json = (await res.json()) as {
    data?: Record<string, unknown> | null;
    errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
  };
  return { status: res.status, ...json };
}

const token = (caps: string[] = [], tenant = 'tenant-1') => issuer.sign({ sub: 'alice', caps, tenant });

describe('the directives survive composition', () => {
  it('the supergraph carries @policy and @requiresCapability, read by the router', () => {
    expect(supergraphSdl).toContain('@link(url: "https://somaagent.dev/policy/v1.0"');
    const map = readPolicyDirectives(supergraphSdl);
    expect(map.get('Query.open')).toEqual([{ policy: 'public' }]);
    expect(map.get('Query.secret')).toEqual([{ policy: 'capability', required: ['items:secret'] }]);
    expect(map.get('Item.secret')).toEqual([{ policy: 'capability', required: ['items:secret'] }]);
    // On an OBJECT, the directive covers every field of the type.
    expect(map.get('Vault.code')).toEqual([{ policy: 'capability', required: ['items:secret'] }]);
    expect(map.has('Item.name')).toBe(false);
  });

  it('honours an aliased import', () => {
    const aliased = supergraphSdl
      .replace('import: ["@policy", "@requiresCapability"]', 'import: [{name: "@policy", as: "@opa"}]')
      .replaceAll('@policy(name:', '@opa(name:')
      .replace('directive @policy(', 'directive @opa(');
    const map = readPolicyDirectives(aliased);
    expect(map.get('Query.open')).toEqual([{ policy: 'public' }]);
    expect(map.has('Query.secret')).toBe(false);
  });
});

describe('per-field enforcement with partial results', () => {
  it('serves allowed fields and denies the rest with FORBIDDEN and the policy reason', async () => {
    const before = reached.secret ?? 0;
    const r = await post('{ open whoami secret }', await token(['other']));
    expect(r.status).toBe(200);
    expect(r.data).toEqual({ open: 'open', whoami: 'alice', secret: null });
    expect(r.errors).toHaveLength(1);
    expect(r.errors?.[0]).toMatchObject({
      message:
        'denied by policy "capability": missing capability "items:secret": ask a tenant admin to grant it',
      path: ['secret'],
      extensions: {
        code: 'FORBIDDEN',
        policy: 'capability',
        reasons: ['missing capability "items:secret": ask a tenant admin to grant it'],
      },
    });
    // The denied root field never reached its subgraph.
    expect(reached.secret ?? 0).toBe(before);
  });

  it('allows the field when the capability is held', async () => {
    const r = await post('{ secret }', await token(['items:secret']));
    expect(r).toMatchObject({ status: 200, data: { secret: 'the secret' } });
    expect(r.errors).toBeUndefined();
  });

  it('anonymous callers are told to sign in (UNAUTHENTICATED), public fields still answer', async () => {
    const r = await post('{ open whoami }');
    expect(r.data).toEqual({ open: 'open', whoami: null });
    expect(r.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(r.errors?.[0]?.message).toBe(
      'denied by policy "authenticated": sign in first: this needs an access token',
    );
  });

  it('nested fields: every item keeps its name, its secret is denied', async () => {
    const r = await post('{ items(n: 3) { id name secret } }', await token());
    expect(r.data?.items).toEqual([
      { id: '0', name: 'item-0', secret: null },
      { id: '1', name: 'item-1', secret: null },
      { id: '2', name: 'item-2', secret: null },
    ]);
    expect(r.errors?.map((e) => [e.path, e.extensions?.code])).toEqual([
      [['items', 0, 'secret'], 'FORBIDDEN'],
      [['items', 1, 'secret'], 'FORBIDDEN'],
      [['items', 2, 'secret'], 'FORBIDDEN'],
    ]);
  });

  it('a directive on a type guards each of its fields (non-null field: the parent becomes null)', async () => {
    const denied = await post('{ open vault { code } }', await token());
    expect(denied.data).toEqual({ open: 'open', vault: null });
    expect(denied.errors?.[0]).toMatchObject({ path: ['vault', 'code'], extensions: { code: 'FORBIDDEN' } });
    const allowed = await post('{ vault { code } }', await token(['items:secret']));
    expect(allowed.data).toEqual({ vault: { code: '1234' } });
  });

  it('a directive naming an unknown policy denies by default', async () => {
    const r = await post('{ misnamed }', await token(['*']));
    expect(r.errors?.[0]?.message).toBe(
      'denied by policy "no.such.policy": no policy named "no.such.policy": denied by default',
    );
  });

  it('arguments reach the policy: the tenant constitution caps models and tokens', async () => {
    const q = 'query($m: String!, $t: Int) { persona(input: { model: $m, maxTokens: $t }) }';
    const small = await token([], 'tenant-small');
    expect((await post(q, small, router, { m: 'soma-tiny', t: 128 })).data).toEqual({ persona: 'soma-tiny' });
    const r = await post(q, small, router, { m: 'gpt-x', t: 1000 });
    expect(r.errors?.[0]?.extensions?.reasons).toEqual([
      "1000 tokens per request exceed the tenant's limit of 256",
      'model "gpt-x" is not allowed by the tenant\'s constitution',
    ]);
    // Another tenant, the default constitution: allowed.
    expect((await post(q, await token(), router, { m: 'gpt-x', t: 1000 })).data).toEqual({
      persona: 'gpt-x',
    });
  });
});

describe('per-operation policy', () => {
  it("a read-only tenant's mutations are refused whole (403), its queries pass", async () => {
    const ro = await token(['*'], 'tenant-ro');
    const m = await post('mutation { touch }', ro);
    expect(m.status).toBe(403);
    expect(m.data ?? null).toBeNull();
    expect(m.errors?.[0]).toMatchObject({
      message: 'denied by policy "operation": the tenant\'s constitution is read-only: mutations are refused',
      extensions: { code: 'FORBIDDEN', policy: 'operation' },
    });
    expect((await post('{ whoami }', ro)).data).toEqual({ whoami: 'alice' });
    expect((await post('mutation { touch }', await token())).data).toEqual({ touch: true });
  });
});

describe('decisions are cached per request', () => {
  it('100 items cost one field decision, not 100', async () => {
    // A tenant no other test uses: no decision of an earlier request can be reused.
    const t = await token([], 'tenant-items');
    const before = evaluator.evaluations;
    const r = await post('{ items(n: 100) { id secret } }', t);
    expect(r.data?.items).toHaveLength(100);
    expect(r.errors).toHaveLength(100);
    // operation + Query.items + Item.secret (asked once for all 100 items)
    expect(evaluator.evaluations - before).toBe(3);
  });

  it('a later request reuses the decisions (still audited, as reused) until the policy data changes', async () => {
    const t = await token(['*'], 'tenant-reuse');
    const before = evaluator.evaluations;
    const auditedBefore = auditEvents.length;
    await post('{ whoami }', t);
    expect(evaluator.evaluations - before).toBe(2); // operation + Query.whoami
    await post('{ whoami }', t);
    expect(evaluator.evaluations - before).toBe(2);
    // Every request's decisions are audited: 2 decided, then the same 2 reused.
    await new Promise((r) => setTimeout(r, 20));
    const outcomes = auditEvents
      .slice(auditedBefore)
      .filter((e) => e.tenantId === 'tenant-reuse')
      .map((e) => (e.payload as { outcome: string }).outcome);
    expect(outcomes.sort()).toEqual(['decided', 'decided', 'reused', 'reused']);

    // New data (the tenant's constitution changed): the next request asks the engine again.
    evaluator.setData(testData({ 'tenant-reuse': { suspended: true } }));
    try {
      const r = await post('{ whoami }', t);
      expect(evaluator.evaluations - before).toBe(3);
      expect(r.errors?.[0]?.message).toBe('denied by policy "operation": the tenant is suspended');
    } finally {
      evaluator.setData(testData());
    }
  });
});

describe('subscriptions', () => {
  const subscribe = (tokenValue: string) =>
    new Promise<{ values: number[]; error?: { message: string; extensions?: { code?: string } } }>(
      (resolve) => {
        const client = createClient({
          url: router.wsUrl,
          webSocketImpl: WebSocket,
          connectionParams: { authorization: `Bearer ${tokenValue}` },
          retryAttempts: 0,
        });
        const values: number[] = [];
        client.subscribe<{ ticks: number }>(
          { query: 'subscription { ticks(n: 3) }' },
          {
            next: (r) => {
              if (r.errors?.length) {
                void client.dispose();
                resolve({ values, error: r.errors[0] as never });
              } else if (r.data) values.push(r.data.ticks);
            },
            error: (e) => {
              void client.dispose();
              resolve({ values, error: (Array.isArray(e) ? e[0] : e) as never });
            },
            complete: () => {
              void client.dispose();
              resolve({ values });
            },
          },
        );
      },
    );

  it('are refused when they start, with the policy reason', async () => {
    const denied = await subscribe(await token());
    expect(denied.values).toEqual([]);
    expect(denied.error?.extensions?.code).toBe('FORBIDDEN');
    expect(denied.error?.message).toMatch(/missing capability "items:secret"/);
  });

  it('run when allowed', async () => {
    expect(await subscribe(await token(['items:secret']))).toEqual({ values: [0, 1, 2] });
  });
});

describe('audit', () => {
  it('every decision is an agent.audit event with subject, policy, input digest, result and reason', async () => {
    const before = auditEvents.length;
    await post('{ secret }', await token(['nothing']));
    await new Promise((r) => setTimeout(r, 20));
    const events = auditEvents.slice(before);
    expect(events.map((e) => (e.payload as PolicyDecisionAudit).policy)).toEqual(['operation', 'capability']);
    const denied = events[1]!;
    expect(denied).toMatchObject({ topic: 'agent.audit', tenantId: 'tenant-1', type: 'policy.decision' });
    expect(denied.payload).toMatchObject({
      subject: 'alice',
      policy: 'capability',
      result: 'deny',
      reasons: ['missing capability "items:secret": ask a tenant admin to grant it'],
      engine: 'wasm',
      outcome: 'decided',
      fieldPath: 'secret',
    });
    expect((denied.payload as PolicyDecisionAudit).inputDigest).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('fail-closed', () => {
  let closedPort = 0;
  beforeAll(async () => {
    const released = createServer();
    await new Promise<void>((resolve) => released.listen(0, '127.0.0.1', resolve));
    closedPort = (released.address() as { port: number }).port;
    await new Promise<void>((resolve) => released.close(() => resolve()));
  });

  it('an unreachable engine refuses every operation with UNAVAILABLE (503), never allows', async () => {
    const evaluatorDown = new OpaServerPolicyEvaluator({ url: `http://127.0.0.1:${closedPort}` });
    await using down = await createRouter({
      ...common(),
      policy: { decider: createPolicyDecider({ evaluator: evaluatorDown }) },
    });
    const r = await post('{ open }', await token(['*']), down);
    expect(r.status).toBe(503);
    expect(r.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE');
    expect(r.errors?.[0]?.message).toMatch(/^policy engine unavailable \(OPA server at .*\(fail-closed\)/);
  });

  it('field policies fail closed too when only they are asked', async () => {
    const evaluatorDown = new OpaServerPolicyEvaluator({ url: `http://127.0.0.1:${closedPort}` });
    await using down = await createRouter({
      ...common(),
      policy: { decider: createPolicyDecider({ evaluator: evaluatorDown }), operationPolicy: false },
    });
    const r = await post('{ open secret }', await token(['*']), down);
    expect(r.data).toBeNull();
    expect(r.errors?.map((e) => e.extensions?.code)).toEqual(['UNAVAILABLE']);
  });

  it('without a policy option the router asks nothing (the subgraphs check alone)', async () => {
    await using plain = await createRouter(common());
    expect((await post('{ secret }', await token(), plain)).data).toEqual({ secret: 'the secret' });
  });
});

describe("the platform's subgraphs", () => {
  const canonical = readFileSync(new URL('../../schema/directives/policy.graphql', import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => !line.startsWith('#'))
    .join('\n')
    .trim();

  for (const name of ['identity', 'sessions']) {
    it(`${name} copies the directive definitions of schema/directives/policy.graphql verbatim`, () => {
      const sdl = readFileSync(new URL(`../../subgraphs/${name}/schema.graphql`, import.meta.url), 'utf8');
      expect(sdl).toContain(canonical);
    });
  }

  it('every root field of the composed supergraph declares a policy (default deny needs a name)', () => {
    const sdl = readFileSync(new URL('../../schema/supergraph.graphql', import.meta.url), 'utf8');
    const map = readPolicyDirectives(sdl);
    const unguarded: string[] = [];
    for (const root of ['Query', 'Mutation', 'Subscription']) {
      const block = new RegExp(`\\ntype ${root}\\b[^{]*\\{([^}]*)\\}`).exec(sdl)?.[1] ?? '';
      for (const [, field] of block.matchAll(/^ {2}(\w+)[(:]/gm)) {
        if (!map.has(`${root}.${field}`)) unguarded.push(`${root}.${field}`);
      }
    }
    expect(unguarded).toEqual([]);
  });
});
