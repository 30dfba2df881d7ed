/**
 * Policy cost, measured in one run (not a test; prints, asserts nothing about speed):
 *
 *   1. decision latency p50/p99 of the SAME Rego: in-process wasm (@open-policy-agent/opa-wasm,
 *      the embedded mode) vs the real OPA server over REST (distributed mode);
 *   2. router throughput on the same query with policy off, on (wasm) and on (OPA server),
 *      through real HTTP against a real subgraph, with ratios against "off".
 *
 *   npx tsx bench/policy/bench.ts
 *
 * How (2) is kept honest on a small shared machine, where noise is larger than the effect:
 * - the load generator is a separate process (loadClient.ts), not a loop in the routers' event
 *   loop;
 * - rounds are interleaved (off, wasm, opa | opa, wasm, off | ...: the order alternates so a
 *   drift in machine load hits every router alike), the first BENCH_WARMUP_ROUNDS are thrown
 *   away, and the ratio is taken PER ROUND (wasm / off of the same round) and summarised by its
 *   median, interquartile range and min/max over BENCH_ROUNDS;
 * - the policy routers audit every decision on an in-process event bus, as the embedded platform
 *   does, and the run checks that the audit events equal the engine evaluations;
 * - os.loadavg() is printed at start and end.
 *
 * The OPA server is the test harness's engine `opa` (SOMA_OPA_URL when set, else brought up
 * like the tests do and released at the end). Knobs: BENCH_DECISIONS, BENCH_REQUESTS,
 * BENCH_CONCURRENCY, BENCH_ROUNDS, BENCH_WARMUP_ROUNDS, BENCH_ROUTERS (comma list of
 * off,wasm,wasm-no-reuse,opa-server; e.g. `wasm` alone to profile with `node --cpu-prof --import tsx`).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { InProcessEventBus } from '@somaagent/events';
import { PlatformMetrics } from '@somaagent/observability';
import {
  AUDIT_TOPIC,
  createPolicyDecider,
  OpaServerPolicyEvaluator,
  type PolicyEvaluator,
  type PolicyInput,
  publishPoliciesToOpa,
  WasmPolicyEvaluator,
} from '@somaagent/policy';
import { composeSupergraph } from '../../router/src/compose/composeSupergraph';
import { createRouter, type RouterOptions, type RunningRouter } from '../../router/src/createRouter';
import { policySdl, servePolicySubgraph } from '../../router/test/fixtures/policySubgraph';
import { startTestIssuer } from '../../router/test/fixtures/testIssuer';
import { engineByName } from '../../scripts/infra/engines/index';
import { releaseTestLease, up } from '../../scripts/infra/infra';
import type { LoadJob, LoadResult } from './loadClient';

const DECISIONS = Number(process.env.BENCH_DECISIONS ?? 20_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 12);
const WARMUP_ROUNDS = Number(process.env.BENCH_WARMUP_ROUNDS ?? 2);
const ROUTERS = (process.env.BENCH_ROUTERS ?? 'off,wasm,wasm-metrics,wasm-no-reuse,opa-server').split(
  ',',
) as RouterName[];
type RouterName = 'off' | 'wasm' | 'wasm-metrics' | 'wasm-no-reuse' | 'opa-server';

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
/** Linear-interpolated quantile (q in 0..1) of a small sample. */
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
};
const median = (xs: number[]) => quantile(xs, 0.5);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');

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

/** The load generator, in its own process. */
function startClient() {
  const child: ChildProcess = fork(fileURLToPath(new URL('./loadClient.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    stdio: 'inherit',
  });
  const run = (job: LoadJob) =>
    new Promise<LoadResult>((resolve, reject) => {
      child.once('message', (m: { ok: boolean; result?: LoadResult; error?: string }) =>
        m.ok ? resolve(m.result!) : reject(new Error(m.error)),
      );
      child.send(job);
    });
  return { run, close: () => child.kill() };
}

console.log(
  `machine: ${cpus().length} cores, node ${process.version}; loadavg (1/5/15 min) at start: ${load()}`,
);

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

// Every decision is audited, as in the embedded platform (startPlatform passes its event bus);
// a subscriber drains the topic so the events are really delivered, and counted.
const audit = new InProcessEventBus();
let audited = 0;
// Decisions the engine made (`decided`/`unavailable-*`) vs reused by a later request (`reused`).
let reusedAudits = 0;
void (async () => {
  for await (const event of audit.subscribe(AUDIT_TOPIC)) {
    audited++;
    if ((event.payload as { outcome?: string }).outcome === 'reused') reusedAudits++;
  }
})();

const issuer = await startTestIssuer();
const secret = randomBytes(32).toString('base64url');
const subgraph = await servePolicySubgraph(secret);
const common: RouterOptions = {
  supergraphSdl: composeSupergraph([
    { name: 'policy', routingUrl: 'http://127.0.0.1:1/graphql', schemaFile: 'policy', sdl: policySdl },
  ]),
  subgraphUrls: { policy: subgraph.url },
  routerSecret: secret,
  // Budgets still counted on every request, but out of reach: the bench measures serving, and the
  // defaults (3,000 units a minute per subject) would answer most of its requests 429.
  limits: {
    requestsPerMinutePerIp: 1_000_000_000,
    requestsPerMinutePerSubject: 1_000_000_000,
    requestsPerMinutePerTenant: 1_000_000_000,
  },
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
const routerFactories: Record<RouterName, () => Promise<RunningRouter>> = {
  off: () => createRouter(common),
  wasm: () =>
    createRouter({ ...common, policy: { decider: createPolicyDecider({ evaluator: wasm, audit }) } }),
  // The same with Prometheus metrics recorded (docs/observability.md): what observability costs.
  'wasm-metrics': () =>
    createRouter({
      ...common,
      metrics: new PlatformMetrics(),
      policy: { decider: createPolicyDecider({ evaluator: wasm, audit }) },
    }),
  // The same engine with decisions kept for one request only: what a stream of questions never
  // asked before costs (the bench repeats one query, so `wasm` mostly reuses decisions).
  'wasm-no-reuse': () =>
    createRouter({
      ...common,
      policy: { decider: createPolicyDecider({ evaluator: wasm, audit, sharedDecisions: 0 }) },
    }),
  'opa-server': () =>
    createRouter({ ...common, policy: { decider: createPolicyDecider({ evaluator: server, audit }) } }),
};
const routers = {} as Record<RouterName, RunningRouter>;
for (const name of ROUTERS) routers[name] = await routerFactories[name]();
const client = startClient();
const token = await issuer.sign({ sub: 'bench' }, { expiresIn: '2h' });
// Per request: the operation policy, Query.items, Item.secret (once for the 20 items), Query.whoami.
const QUERY = '{ whoami items(n: 20) { id name secret } }';
const job = (name: RouterName): LoadJob => ({
  url: routers[name].url,
  token,
  body: JSON.stringify({ query: QUERY }),
  requests: REQUESTS,
  concurrency: CONCURRENCY,
});

try {
  const latency = {
    wasm: { p50: Number.NaN, p99: Number.NaN },
    server: { p50: Number.NaN, p99: Number.NaN },
  };
  if (!process.env.BENCH_SKIP_LATENCY) {
    const rounds = {
      wasm: [] as { p50: number; p99: number }[],
      server: [] as { p50: number; p99: number }[],
    };
    for (let round = 0; round < 3; round++) {
      rounds.wasm.push(await decisionLatency(wasm, DECISIONS));
      rounds.server.push(await decisionLatency(server, Math.max(200, Math.floor(DECISIONS / 10))));
    }
    latency.wasm = { p50: median(rounds.wasm.map((l) => l.p50)), p99: median(rounds.wasm.map((l) => l.p99)) };
    latency.server = {
      p50: median(rounds.server.map((l) => l.p50)),
      p99: median(rounds.server.map((l) => l.p99)),
    };
    const ms = (x: number) => `${x.toFixed(3)} ms`;
    console.log('\nPolicy decision latency (median of 3 rounds; one capability decision)');
    console.log('| evaluator | p50 | p99 | p99 vs wasm |');
    console.log('| --- | --- | --- | --- |');
    console.log(`| wasm in-process | ${ms(latency.wasm.p50)} | ${ms(latency.wasm.p99)} | 1.00x |`);
    console.log(
      `| OPA server (REST, loopback) | ${ms(latency.server.p50)} | ${ms(latency.server.p99)} | ${(latency.server.p99 / latency.wasm.p99).toFixed(1)}x |`,
    );
    console.log(`goal: in-process p99 < 0.5 ms → ${latency.wasm.p99 < 0.5 ? 'met' : 'NOT met'}`);
  }

  // cpuMs: CPU time of this process (routers + subgraph, all threads) per request during the round.
  type Measured = LoadResult & { cpuMs: number };
  const results: Record<RouterName, Measured[]> = {
    off: [],
    wasm: [],
    'wasm-metrics': [],
    'wasm-no-reuse': [],
    'opa-server': [],
  };
  const evaluationsBefore = wasm.evaluations + server.evaluations;
  const auditedBefore = audited;
  const reusedBefore = reusedAudits;
  let errors = 0;
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    const order = round % 2 === 0 ? ROUTERS : [...ROUTERS].reverse();
    for (const name of order) {
      const cpu0 = process.cpuUsage();
      const r = await client.run(job(name));
      const cpu = process.cpuUsage(cpu0);
      errors += r.errors;
      if (round >= WARMUP_ROUNDS)
        results[name].push({ ...r, cpuMs: (cpu.user + cpu.system) / 1000 / REQUESTS });
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 50)); // let the audit subscriber drain
  const evaluations = wasm.evaluations + server.evaluations - evaluationsBefore;

  console.log(
    `\nRouter throughput, \`${QUERY}\`: ${REQUESTS} requests per round, concurrency ${CONCURRENCY}, ` +
      `${ROUNDS} rounds interleaved (${WARMUP_ROUNDS} warm-up rounds discarded), load from a separate process`,
  );
  /** One table: a higher-is-better metric per router, and its per-round ratio to "off". */
  const table = (
    title: string,
    unit: string,
    metric: (r: Measured) => number,
    extra: (rs: Measured[]) => string,
  ) => {
    console.log(`\n${title}`);
    console.log(
      `| policy | ${unit} (median) | ${extra([]) ? 'p50 / p99 latency (median) | ' : ''}ratio to off per round: median | IQR | min–max | overhead (median) |`,
    );
    console.log(`| --- | --- | ${extra([]) ? '--- | ' : ''}--- | --- | --- | --- |`);
    let wasmOverhead = Number.NaN;
    for (const name of ROUTERS) {
      const rs = results[name];
      const cells = [name, median(rs.map(metric)).toFixed(0), ...(extra([]) ? [extra(rs)] : [])];
      if (!routers.off || name === 'off') {
        console.log(`| ${[...cells, '1.000x', '—', '—', '—'].join(' | ')} |`);
        continue;
      }
      const ratios = rs.map((r, i) => metric(r) / metric(results.off[i]!));
      const m = median(ratios);
      if (name === 'wasm') wasmOverhead = 1 - m;
      const f = (x: number) => x.toFixed(3);
      console.log(
        `| ${[...cells, `${f(m)}x`, `${f(quantile(ratios, 0.25))}–${f(quantile(ratios, 0.75))}`, `${f(Math.min(...ratios))}–${f(Math.max(...ratios))}`, `${((1 - m) * 100).toFixed(1)}%`].join(' | ')} |`,
      );
    }
    if (!Number.isNaN(wasmOverhead)) {
      console.log(
        `goal: router overhead with policy (wasm) < 10% → ${wasmOverhead < 0.1 ? 'met' : 'NOT met'}`,
      );
    }
    if (routers.wasm && routers['wasm-metrics']) {
      const ratios = results['wasm-metrics'].map((r, i) => metric(r) / metric(results.wasm[i]!));
      const m = median(ratios);
      const f = (x: number) => x.toFixed(3);
      console.log(
        `metrics on vs off (wasm-metrics / wasm per round): median ${f(m)}x, IQR ${f(quantile(ratios, 0.25))}–${f(quantile(ratios, 0.75))}, min–max ${f(Math.min(...ratios))}–${f(Math.max(...ratios))} → cost ${((1 - m) * 100).toFixed(1)}% (goal ≤ 5%: ${1 - m <= 0.05 ? 'met' : 'NOT met'})`,
      );
    }
  };
  const latencyCell = (rs: Measured[]) =>
    rs.length === 0
      ? 'yes'
      : `${median(rs.map((r) => r.p50)).toFixed(1)} / ${median(rs.map((r) => r.p99)).toFixed(1)} ms`;
  table(
    'Wall clock (what a client sees; moves with the load of the machine)',
    'req/s',
    (r) => r.rps,
    latencyCell,
  );
  table(
    'CPU cost (CPU time of the router process, subgraph included, per request: requests per CPU-second; far less sensitive to other processes)',
    'req per CPU-s',
    (r) => 1000 / r.cpuMs,
    () => '',
  );
  const reused = reusedAudits - reusedBefore;
  const engineAudits = audited - auditedBefore - reused;
  console.log(
    `audit: ${audited - auditedBefore} policy.decision events: ${engineAudits} for ${evaluations} engine evaluations` +
      `${engineAudits === evaluations ? ' (every engine decision audited)' : ' (MISMATCH)'}, ` +
      `${reused} for decisions reused by later requests (wasm: same question, same policy data); ` +
      `responses with errors: ${errors}`,
  );
  console.log(`loadavg (1/5/15 min) at end: ${load()}`);
} finally {
  client.close();
  for (const r of Object.values(routers)) await r.close();
  await subgraph.close();
  await issuer.close();
  await audit[Symbol.asyncDispose]();
  if (leased) await releaseTestLease();
}
