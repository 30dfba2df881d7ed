/**
 * Policy cost, measured in one run (not a test; prints, asserts nothing):
 *
 *   1. decision latency p50/p99 of the SAME Rego: in-process wasm (@open-policy-agent/opa-wasm,
 *      the embedded mode) vs the real OPA server over REST (distributed mode);
 *   2. router throughput on the same query with policy off, on (wasm) and on (OPA server),
 *      through real HTTP against a real subgraph, with ratios against "off".
 *
 *   npx tsx bench/policy/bench.ts
 *
 * The OPA server is the test harness's engine `opa` (SOMA_OPA_URL when set, else brought up
 * like the tests do and released at the end). Knobs: BENCH_DECISIONS, BENCH_REQUESTS,
 * BENCH_CONCURRENCY, BENCH_ROUNDS.
 */
import { randomBytes } from 'node:crypto';
import {
  createPolicyDecider,
  OpaServerPolicyEvaluator,
  type PolicyEvaluator,
  type PolicyInput,
  publishPoliciesToOpa,
  WasmPolicyEvaluator,
} from '@somaagent/policy';
import { composeSupergraph } from '../../router/src/compose/composeSupergraph';
import { createRouter, type RouterOptions } from '../../router/src/createRouter';
import { policySdl, servePolicySubgraph } from '../../router/test/fixtures/policySubgraph';
import { startTestIssuer } from '../../router/test/fixtures/testIssuer';
import { engineByName } from '../../scripts/infra/engines/index';
import { releaseTestLease, up } from '../../scripts/infra/infra';

const DECISIONS = Number(process.env.BENCH_DECISIONS ?? 20_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

const INPUT: PolicyInput = {
  policy: 'capability',
  subject: {
    subject: 'user-1',
    tenantId: 'tenant-a',
    roles: ['member'],
    capabilities: ['sessions:read', 'identity:users:read'],
    platformAdmin: false,
    authMethod: 'password',
  },
  operation: { type: 'query', name: 'Sessions' },
  field: { parentType: 'Query', name: 'sessions', path: 'sessions' },
  args: { first: 20 },
  required: ['sessions:read'],
  resource: { type: 'Query', tenantId: null },
};

async function decisionLatency(evaluator: PolicyEvaluator, n: number) {
  for (let i = 0; i < Math.min(500, n); i++) await evaluator.evaluate(INPUT); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const d = await evaluator.evaluate(INPUT);
    samples.push(performance.now() - t0);
    if (!d.allow) throw new Error('unexpected denial');
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

async function throughput(url: string, token: string, query: string): Promise<number> {
  const body = JSON.stringify({ query });
  const once = async () => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body,
    });
    const json = (await res.json()) as { errors?: unknown };
    if (json.errors) throw new Error(JSON.stringify(json.errors));
  };
  for (let i = 0; i < 100; i++) await once(); // warm-up
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < REQUESTS) await once();
    }),
  );
  return REQUESTS / ((performance.now() - t0) / 1000);
}

let opaUrl = process.env.SOMA_OPA_URL;
let leased = false;
if (!opaUrl) {
  const result = await up([engineByName('opa')], { owner: 'tests', progress: () => undefined });
  opaUrl = result.env.SOMA_OPA_URL;
  leased = true;
}
if (!opaUrl) throw new Error('the opa engine gave no SOMA_OPA_URL');
await publishPoliciesToOpa(opaUrl);

const wasm = await WasmPolicyEvaluator.load();
const server = new OpaServerPolicyEvaluator({ url: opaUrl });

const issuer = await startTestIssuer();
const secret = randomBytes(32).toString('base64url');
const subgraph = await servePolicySubgraph(secret);
const common: RouterOptions = {
  supergraphSdl: composeSupergraph([
    { name: 'policy', routingUrl: 'http://127.0.0.1:1/graphql', schemaFile: 'policy', sdl: policySdl },
  ]),
  subgraphUrls: { policy: subgraph.url },
  routerSecret: secret,
  issuers: [
    {
      ...issuer.trusted,
      toClaims: (p: Record<string, unknown>, iss: string) => ({
        ...issuer.trusted.toClaims(p, iss),
        capabilities: ['items:secret'],
      }),
    },
  ],
};
const routers = {
  off: await createRouter(common),
  wasm: await createRouter({ ...common, policy: { decider: createPolicyDecider({ evaluator: wasm }) } }),
  'opa-server': await createRouter({
    ...common,
    policy: { decider: createPolicyDecider({ evaluator: server }) },
  }),
};
const token = await issuer.sign({ sub: 'bench' });
// Per request: the operation policy, Query.items, Item.secret (once for the 20 items), Query.whoami.
const QUERY = '{ whoami items(n: 20) { id name secret } }';

try {
  const latency = {
    wasm: [] as { p50: number; p99: number }[],
    server: [] as { p50: number; p99: number }[],
  };
  const rps: Record<keyof typeof routers, number[]> = { off: [], wasm: [], 'opa-server': [] };
  for (let round = 0; round < ROUNDS; round++) {
    latency.wasm.push(await decisionLatency(wasm, DECISIONS));
    latency.server.push(await decisionLatency(server, Math.max(200, Math.floor(DECISIONS / 10))));
    for (const name of Object.keys(routers) as (keyof typeof routers)[]) {
      rps[name].push(await throughput(routers[name].url, token, QUERY));
    }
  }
  const lw = { p50: median(latency.wasm.map((l) => l.p50)), p99: median(latency.wasm.map((l) => l.p99)) };
  const ls = { p50: median(latency.server.map((l) => l.p50)), p99: median(latency.server.map((l) => l.p99)) };
  const ms = (x: number) => `${x.toFixed(3)} ms`;
  console.log(`\nPolicy decision latency (median of ${ROUNDS} rounds; one capability decision)`);
  console.log('| evaluator | p50 | p99 | p99 vs wasm |');
  console.log('| --- | --- | --- | --- |');
  console.log(`| wasm in-process | ${ms(lw.p50)} | ${ms(lw.p99)} | 1.00x |`);
  console.log(
    `| OPA server (REST, loopback) | ${ms(ls.p50)} | ${ms(ls.p99)} | ${(ls.p99 / lw.p99).toFixed(1)}x |`,
  );
  console.log(`goal: in-process p99 < 0.5 ms → ${lw.p99 < 0.5 ? 'met' : 'NOT met'}`);

  const off = median(rps.off);
  console.log(
    `\nRouter throughput, \`${QUERY}\` (${REQUESTS} requests, concurrency ${CONCURRENCY}, median of ${ROUNDS})`,
  );
  console.log('| policy | req/s | vs off | overhead |');
  console.log('| --- | --- | --- | --- |');
  for (const name of Object.keys(routers) as (keyof typeof routers)[]) {
    const r = median(rps[name]);
    console.log(
      `| ${name} | ${r.toFixed(0)} | ${(r / off).toFixed(3)}x | ${(((off - r) / off) * 100).toFixed(1)}% |`,
    );
  }
  console.log('goal: router overhead with policy < 10%');
} finally {
  for (const r of Object.values(routers)) await r.close();
  await subgraph.close();
  await issuer.close();
  if (leased) await releaseTestLease();
}
