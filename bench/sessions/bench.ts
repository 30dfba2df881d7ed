// bench/sessions: what the platform adds on top of the model server, measured side by side in
// one run against the harness's llama.cpp server (engine `llm`, brought up if needed).
//
//   npx tsx bench/sessions/bench.ts [--runs 200] [--concurrency 100,1000] [--max-tokens 24] [--trace-runs 100]
//     [--database pglite|server] [--subgraph-transport in-process|http] [--compare-transports]
//     [--send-over ws|http]
//
// The platform (router + subgraphs, embedded PGlite) runs in a CHILD process
// (platformProcess.ts); this process is only the client, as a real client would be.
// 1. Time to first token and inter-token gap: the `openai` client straight to llama-server
//    (direct) vs a GraphQL client through the router (tokens over a graphql-ws subscription),
//    which sends its sendMessage either over that same socket or as an HTTP POST. Rounds of the
//    three in rotated order (after a warm-up); p50/p95 of each, the added time and ratio, and the
//    paired per-round difference.
// 1b. With --compare-transports: the same first-token measurement with the router reaching the
//    subgraphs in-process and over signed HTTP + graphql-ws, side by side (two platform
//    processes, rounds of direct / in-process / http in rotated order).
// 2. N concurrent streaming sessions through the router: token delivery lag, errors, RSS of the
//    platform process.
// 3. With --trace-runs > 0: a second platform process with profiling probes (trace.ts) and a
//    breakdown of where the routed time to first token goes.
// Prints numbers only; asserts nothing (CONVENTIONS: speed lives here, not in tests).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createInterface, type Interface } from 'node:readline';
import { parseArgs } from 'node:util';
import { createClient } from 'graphql-ws';
import OpenAI from 'openai';
import pg from 'pg';
import WebSocket from 'ws';
import { engineByName } from '../../scripts/infra/engines/index';
import { up } from '../../scripts/infra/infra';
import type { MarkName } from './trace';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '100,1000' },
    'max-tokens': { type: 'string', default: '24' },
    'trace-runs': { type: 'string', default: '100' },
    /** Where the platform keeps its data: embedded PGlite, or a fresh database on the harness's PostgreSQL server. */
    database: { type: 'string', default: 'pglite' },
    /** How the router reaches the subgraphs: in-process (the platform's default) or http. */
    'subgraph-transport': { type: 'string', default: 'in-process' },
    /** Also run the two subgraph transports side by side (two platform processes, interleaved). */
    'compare-transports': { type: 'boolean', default: false },
    /** How the concurrency and trace sections send sendMessage (section 1 measures both). */
    'send-over': { type: 'string', default: 'ws' },
  },
});
if (values['subgraph-transport'] !== 'in-process' && values['subgraph-transport'] !== 'http')
  throw new Error(`--subgraph-transport is in-process or http, not ${values['subgraph-transport']}`);
if (values['send-over'] !== 'ws' && values['send-over'] !== 'http')
  throw new Error(`--send-over is ws or http, not ${values['send-over']}`);
const defaultSendOver = values['send-over'] as 'ws' | 'http';
const runs = Number(values.runs);
const warmup = Number(values.warmup);
const levels = values.concurrency ? values.concurrency.split(',').filter(Boolean).map(Number) : [];
const maxTokens = Number(values['max-tokens']);
const traceRuns = Number(values['trace-runs']);

const percentile = (xs: number[], p: number) => {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
const ms = (x: number) => `${x.toFixed(2)} ms`;
const now = () => performance.timeOrigin + performance.now();
const load = () =>
  `load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')} on ${cpus().length} cores`;

if (values.database !== 'pglite' && values.database !== 'server')
  throw new Error(`--database is pglite or server, not ${values.database}`);
const onServer = values.database === 'server';
console.error(`[bench] bringing up the llm engine${onServer ? ' and postgres' : ''}…`);
const { env } = await up(onServer ? [engineByName('llm'), engineByName('postgres')] : [engineByName('llm')], {
  progress: (e, m) => console.error(`[infra] ${e}: ${m}`),
});
// On the server, each platform process gets a fresh database (the platform migrates it), dropped at the end.
const ownerSql = async (sql: string) => {
  const admin = new pg.Client({ connectionString: env.SOMA_DATABASE_OWNER_URL });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
};
const benchDatabases: string[] = [];
async function freshDatabaseEnv(): Promise<Record<string, string>> {
  if (!onServer) return {};
  const name = `soma_bench_${randomBytes(6).toString('hex')}`;
  await ownerSql(`CREATE DATABASE ${name} OWNER soma_owner`);
  await ownerSql(`GRANT CONNECT, TEMPORARY ON DATABASE ${name} TO soma_app`);
  benchDatabases.push(name);
  const inDatabase = (base: string) => {
    const url = new URL(base);
    url.pathname = `/${name}`;
    return url.toString();
  };
  return {
    SOMA_BENCH_DATABASE_URL: inDatabase(env.SOMA_DATABASE_URL!),
    SOMA_BENCH_DATABASE_OWNER_URL: inDatabase(env.SOMA_DATABASE_OWNER_URL!),
  };
}
const baseURL = env.SOMA_LLM_BASE_URL!;
const model = env.SOMA_LLM_MODEL!;
const apiKey = env.SOMA_LLM_API_KEY ?? 'not-needed';

// ---------------------------------------------------------------------------------------------
// the platform process

interface Platform {
  child: ChildProcess;
  lines: Interface;
  url: string;
  wsUrl: string;
  token: string;
  personaId: string;
  next(): Promise<string>;
  rssMiB(): number;
  stop(): Promise<void>;
}

async function startPlatformProcess(
  trace: boolean,
  transport = values['subgraph-transport'] as string,
): Promise<Platform> {
  const child = spawn(
    process.execPath,
    [
      // e.g. BENCH_PLATFORM_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the platform
      ...(process.env.BENCH_PLATFORM_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      '--import',
      'tsx',
      new URL('./platformProcess.ts', import.meta.url).pathname,
      ...(trace ? ['--trace'] : []),
    ],
    {
      env: {
        ...process.env,
        ...env,
        ...(await freshDatabaseEnv()),
        SOMA_BENCH_SUBGRAPH_TRANSPORT: transport,
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout! });
  const queue: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (line) => {
    const w = waiting.shift();
    if (w) w(line);
    else queue.push(line);
  });
  const next = () =>
    new Promise<string>((resolve, reject) => {
      const line = queue.shift();
      if (line !== undefined) return resolve(line);
      waiting.push(resolve);
      child.once('exit', (code) => reject(new Error(`platform process exited with ${code}`)));
    });
  const ready = JSON.parse(await next()) as { url: string; wsUrl: string; platformAdminKey: string };

  const gqlAt = (query: string, variables: Record<string, unknown>, token?: string) =>
    gql(ready.url, query, variables, token);
  const platformToken = (
    await gqlAt('mutation($s: String!) { exchangeApiKey(secret: $s) { accessToken } }', {
      s: ready.platformAdminKey,
    })
  ).exchangeApiKey.accessToken;
  await gqlAt(
    'mutation($i: CreateTenantInput!) { createTenant(input: $i) { tenant { id } } }',
    {
      i: {
        slug: 'bench',
        name: 'Bench',
        adminEmail: 'bench@bench.test',
        adminPassword: 'bench-password-123',
        adminDisplayName: 'B',
      },
    },
    platformToken,
  );
  const token = (
    await gqlAt('mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }', {
      i: { tenantSlug: 'bench', email: 'bench@bench.test', password: 'bench-password-123' },
    })
  ).signIn.accessToken;
  const personaId = (
    await gqlAt(
      'mutation($i: CreatePersonaInput!) { createPersona(input: $i) { id } }',
      { i: { name: 'bench', model, systemPrompt: 'You are a benchmark.', temperature: 0.8, maxTokens } },
      token,
    )
  ).createPersona.id;
  return {
    child,
    lines,
    ...ready,
    token,
    personaId,
    next,
    rssMiB: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
    },
    async stop() {
      child.stdin!.write('exit\n');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

async function gql(url: string, query: string, variables: Record<string, unknown>, token?: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: a benchmark reads a few known fields of each answer
  const body = (await res.json()) as { data?: Record<string, any>; errors?: unknown[] };
  if (!body.data) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

const wsClient = (p: Platform) =>
  createClient({
    url: p.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${p.token}` },
    retryAttempts: 0,
    lazy: false,
  });

interface Observed {
  /** Absolute times (ms): sendMessage sent, its answer received, first token received. */
  sentAt: number;
  answeredAt: number;
  firstTokenAt: number;
  ttft: number;
  gaps: number[];
  lags: number[];
  error?: string;
}

/** One session through the router: subscribe, send, collect until a terminal event. */
/** How the client sends sendMessage: over its graphql-ws socket (the one it streams on) or an HTTP POST. */
type SendOver = 'ws' | 'http';

async function routedSession(
  p: Platform,
  client: ReturnType<typeof createClient>,
  sendOver: SendOver = defaultSendOver,
): Promise<Observed> {
  const sessionId = (
    await gql(
      p.url,
      'mutation($i: StartSessionInput!) { startSession(input: $i) { id } }',
      { i: { personaId: p.personaId } },
      p.token,
    )
  ).startSession.id;
  const o: Observed = {
    sentAt: 0,
    answeredAt: 0,
    firstTokenAt: 0,
    ttft: Number.NaN,
    gaps: [],
    lags: [],
  };
  let last = 0;
  let subscribed!: () => void;
  const ready = new Promise<void>((r) => {
    subscribed = r;
  });
  const done = new Promise<void>((resolve) => {
    const stop = client.subscribe(
      {
        query: `subscription($s: ID!) { sessionEvents(sessionId: $s) { type occurredAt ... on TokenDelta { delta } ... on GenerationFailed { message } } }`,
        variables: { s: sessionId },
      },
      {
        next: (v) => {
          const at = now();
          const e = (v.data as { sessionEvents: { type: string; occurredAt: string; message?: string } })
            .sessionEvents;
          if (e.type === 'TOKEN') {
            if (last === 0) {
              o.firstTokenAt = at;
              o.ttft = at - o.sentAt;
            } else o.gaps.push(at - last);
            last = at;
            o.lags.push(Date.now() - Date.parse(e.occurredAt));
          } else if (e.type !== 'USAGE') {
            if (e.type !== 'COMPLETED') o.error = `${e.type}: ${e.message ?? ''}`;
            stop();
            resolve();
          }
        },
        error: (err) => {
          o.error = JSON.stringify(err).slice(0, 200);
          resolve();
        },
        complete: () => resolve(),
      },
    );
    // Not timed: lets the subscription reach the subgraph before the send (the log would replay
    // a token that raced it anyway, but then the first token would not be live).
    setTimeout(subscribed, 50);
  });
  await ready;
  o.sentAt = now();
  const send = {
    query: 'mutation($i: SendMessageInput!) { sendMessage(input: $i) { afterSequence } }',
    variables: { i: { sessionId, content: 'Tell me something.' } },
  };
  if (sendOver === 'ws') {
    await new Promise<void>((resolve, reject) => {
      client.subscribe(send, {
        next: (v) => {
          if (!v.data) reject(new Error(JSON.stringify(v.errors)));
        },
        error: (err) => reject(err instanceof Error ? err : new Error(JSON.stringify(err))),
        complete: resolve,
      });
    });
  } else await gql(p.url, send.query, send.variables, p.token);
  o.answeredAt = now();
  await done;
  return o;
}

const messages = [
  { role: 'system' as const, content: 'You are a benchmark.' },
  { role: 'user' as const, content: 'Tell me something.' },
];
const openai = new OpenAI({ baseURL, apiKey, maxRetries: 0 });

async function directAnswer() {
  const t0 = now();
  let last = 0;
  let ttft = Number.NaN;
  const gaps: number[] = [];
  const stream = await openai.chat.completions.create({
    model,
    messages,
    max_tokens: maxTokens,
    stream: true,
    temperature: 0.8,
  });
  for await (const chunk of stream) {
    if (!chunk.choices[0]?.delta?.content) continue;
    const at = now();
    if (last === 0) ttft = at - t0;
    else gaps.push(at - last);
    last = at;
  }
  return { ttft, gaps };
}

// ---------------------------------------------------------------------------------------------
// 1. interleaved: direct vs through the router

const loadBefore = load();
const platform = await startPlatformProcess(false);
const sendWays = ['ws', 'http'] as const;
const direct = { ttft: [] as number[], gap: [] as number[] };
const routed = Object.fromEntries(
  sendWays.map((way) => [
    way,
    { ttft: [] as number[], gap: [] as number[], send: [] as number[], paired: [] as number[] },
  ]),
) as Record<SendOver, { ttft: number[]; gap: number[]; send: number[]; paired: number[] }>;
{
  const client = wsClient(platform);
  const order = ['direct', ...sendWays] as const;
  for (let i = 0; i < warmup + runs; i++) {
    // Each round runs the three in a rotated order, so none always follows the same one.
    const round = [...order.slice(i % 3), ...order.slice(0, i % 3)];
    let d!: Awaited<ReturnType<typeof directAnswer>>;
    const r: Partial<Record<SendOver, Observed>> = {};
    for (const side of round) {
      if (side === 'direct') d = await directAnswer();
      else {
        r[side] = await routedSession(platform, client, side);
        if (r[side]!.error) throw new Error(r[side]!.error);
      }
    }
    if (i < warmup) continue;
    direct.ttft.push(d.ttft);
    direct.gap.push(...d.gaps);
    for (const way of sendWays) {
      const o = r[way]!;
      routed[way].ttft.push(o.ttft);
      routed[way].gap.push(...o.gaps);
      routed[way].send.push(o.answeredAt - o.sentAt);
      routed[way].paired.push(o.ttft - d.ttft);
    }
  }
  await client.dispose();
}
const loadAfter = load();

console.log(
  `\n## Time to first token, interleaved (${runs} rounds of direct / routed with sendMessage over graphql-ws / over HTTP, rotated order, after ${warmup} warm-up; answers of ≤ ${maxTokens} tokens, model ${model})\n`,
);
console.log(
  `Platform in a child process (${onServer ? 'PostgreSQL server, a fresh database' : 'embedded PGlite'}; subgraphs reached ${values['subgraph-transport']}), client in this one. Both routed clients receive the tokens over graphql-ws; they differ only in how they send the message. Before: ${loadBefore}; after: ${loadAfter}.\n`,
);
console.log(
  '| metric | direct (openai → llama-server) | router, sent over graphql-ws | router, sent over HTTP | ratio ws / http | added ws | added http |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const [name, xs, p] of [
  ['TTFT p50', 'ttft', 50],
  ['TTFT p95', 'ttft', 95],
  ['inter-token p50', 'gap', 50],
  ['inter-token p95', 'gap', 95],
] as const) {
  const d = percentile(direct[xs], p);
  const w = percentile(routed.ws[xs], p);
  const h = percentile(routed.http[xs], p);
  console.log(
    `| ${name} | ${ms(d)} | ${ms(w)} | ${ms(h)} | ${(w / d).toFixed(2)}x / ${(h / d).toFixed(2)}x | ${ms(w - d)} | ${ms(h - d)} |`,
  );
}
for (const way of sendWays) {
  console.log(
    `\nSent over ${way}: paired difference (routed − direct, same round) p50 ${ms(percentile(routed[way].paired, 50))}, p95 ${ms(percentile(routed[way].paired, 95))}; the sendMessage round trip (client → router → subgraph → database → back) p50 ${ms(percentile(routed[way].send, 50))}, p95 ${ms(percentile(routed[way].send, 95))}.`,
  );
}

// ---------------------------------------------------------------------------------------------
// 1b. the two subgraph transports side by side (--compare-transports)

if (values['compare-transports']) {
  const sides = [
    { name: 'in-process', platform: await startPlatformProcess(false, 'in-process') },
    { name: 'http', platform: await startPlatformProcess(false, 'http') },
  ];
  const clients = sides.map((side) => wsClient(side.platform));
  const ttft = { direct: [] as number[], 'in-process': [] as number[], http: [] as number[] };
  const order = ['direct', 'in-process', 'http'] as const;
  const loadStart = load();
  for (let i = 0; i < warmup + runs; i++) {
    // Each round runs the three in a rotated order, so none always follows the same one.
    const round = [...order.slice(i % 3), ...order.slice(0, i % 3)];
    const got: Partial<Record<(typeof order)[number], number>> = {};
    for (const side of round) {
      if (side === 'direct') got.direct = (await directAnswer()).ttft;
      else {
        const k = side === 'in-process' ? 0 : 1;
        const o = await routedSession(sides[k]!.platform, clients[k]!);
        if (o.error) throw new Error(o.error);
        got[side] = o.ttft;
      }
    }
    if (i < warmup) continue;
    for (const side of order) ttft[side].push(got[side]!);
  }
  await Promise.all(clients.map((c) => c.dispose()));
  await Promise.all(sides.map((side) => side.platform.stop()));
  console.log(
    `\n## Subgraph transports side by side (${runs} rounds of direct / in-process / http after ${warmup} warm-up, rotated order; two platform processes)\n`,
  );
  console.log(`Before: ${loadStart}; after: ${load()}.\n`);
  console.log(
    '| metric | direct | in-process | http | added in-process | added http | http / in-process (added) |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const p of [50, 95]) {
    const d = percentile(ttft.direct, p);
    const a = percentile(ttft['in-process'], p);
    const h = percentile(ttft.http, p);
    console.log(
      `| TTFT p${p} | ${ms(d)} | ${ms(a)} | ${ms(h)} | ${ms(a - d)} | ${ms(h - d)} | ${((h - d) / (a - d)).toFixed(2)}x |`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// 2. concurrency

if (levels.length > 0) {
  console.log('\n## Concurrent streaming sessions through the router\n');
  console.log(
    '| sessions | completed | errors | token lag p50 | token lag p95 | TTFT p50 | TTFT p95 | wall time | platform RSS after |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const n of levels) {
    // 20 subscriptions per socket (the router's per-connection cap), as a busy app would multiplex.
    const clients = Array.from({ length: Math.ceil(n / 20) }, () => wsClient(platform));
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        routedSession(platform, clients[i % clients.length]!).catch(
          (error: Error) =>
            ({
              sentAt: 0,
              answeredAt: 0,
              firstTokenAt: 0,
              ttft: 0,
              gaps: [],
              lags: [],
              error: error.message,
            }) as Observed,
        ),
      ),
    );
    const wall = performance.now() - started;
    const errors = results.filter((r) => r.error);
    const lags = results.flatMap((r) => r.lags);
    const ttfts = results.filter((r) => !r.error).map((r) => r.ttft);
    console.log(
      `| ${n} | ${n - errors.length} | ${errors.length} | ${ms(percentile(lags, 50))} | ${ms(percentile(lags, 95))} | ${ms(percentile(ttfts, 50))} | ${ms(percentile(ttfts, 95))} | ${(wall / 1000).toFixed(1)} s | ${platform.rssMiB().toFixed(0)} MiB |`,
    );
    if (errors.length) console.log(`  first error: ${errors[0]!.error}`);
    await Promise.all(clients.map((c) => c.dispose()));
  }
  console.log(
    `\nToken lag = client receipt − the moment the sessions subgraph emitted the token (wall clock, two processes on one machine): the router + subgraph delivery path. ${load()}.`,
  );
}
await platform.stop();

// ---------------------------------------------------------------------------------------------
// 3. where the routed time to first token goes

if (traceRuns > 0) {
  const traced = await startPlatformProcess(true);
  const client = wsClient(traced);
  const samples: Observed[] = [];
  for (let i = 0; i < warmup + traceRuns; i++) {
    const o = await routedSession(traced, client);
    if (o.error) throw new Error(o.error);
    if (i >= warmup) samples.push(o);
  }
  await client.dispose();
  traced.child.stdin!.write('marks\n');
  const { marks, statements, gc } = JSON.parse(await traced.next()) as {
    marks: { name: MarkName; at: number }[];
    statements: { at: number; ms: number; sql: string }[];
    gc: { at: number; ms: number }[];
  };
  await traced.stop();
  const stages: (MarkName | 'client.answer' | 'client.firstToken')[] = [
    'router.http.start',
    'subgraph.http.start',
    'db.tx.asked',
    'db.tx.begin',
    'model.request',
    'model.fetch',
    'model.sent',
    'db.tx.commit',
    'subgraph.http.finish',
    'router.http.finish',
    'client.answer',
    'model.headers',
    'model.firstChunk',
    'log.append',
    'log.yield',
    'subgraph.ws.send',
    'router.ws.recv',
    'router.ws.send',
    'client.firstToken',
  ];
  const offsets = new Map<string, number[]>(stages.map((s) => [s, []]));
  for (const o of samples) {
    const inWindow = marks.filter((m) => m.at >= o.sentAt && m.at <= o.firstTokenAt);
    const firstOf = (name: MarkName) => inWindow.find((m) => m.name === name)?.at;
    // The answer's transaction: the first to commit after the model request (which starts
    // before it when the prompt could be guessed, inside it otherwise).
    const model = firstOf('model.request');
    const commit = inWindow.find(
      (m) => m.name === 'db.tx.commit' && model !== undefined && m.at >= model,
    )?.at;
    const begin = inWindow
      .filter((m) => m.name === 'db.tx.begin' && commit !== undefined && m.at <= commit)
      .at(-1)?.at;
    for (const s of stages) {
      const at =
        s === 'client.answer'
          ? o.answeredAt
          : s === 'client.firstToken'
            ? o.firstTokenAt
            : s === 'db.tx.begin'
              ? begin
              : s === 'db.tx.asked'
                ? inWindow.filter((m) => m.name === s && begin !== undefined && m.at <= begin).at(-1)?.at
                : s === 'db.tx.commit'
                  ? commit
                  : s === 'model.sent' || s === 'model.headers'
                    ? // undici also carries other requests: the first one after the model's
                      inWindow.find((m) => m.name === s && model !== undefined && m.at >= model)?.at
                    : firstOf(s);
      if (at !== undefined) offsets.get(s)!.push(at - o.sentAt);
    }
  }
  console.log(
    `\n## Where the routed time to first token goes (${traceRuns} traced answers, probes on; times since the client sent sendMessage)\n`,
  );
  console.log('| stage | p50 | p95 | samples |');
  console.log('| --- | --- | --- | --- |');
  for (const s of stages) {
    const xs = offsets.get(s)!;
    if (xs.length === 0) continue; // e.g. the subgraph's HTTP and graphql-ws stages when in-process
    console.log(`| ${s} | ${ms(percentile(xs, 50))} | ${ms(percentile(xs, 95))} | ${xs.length} |`);
  }
  // Garbage collection in the platform process while a first token was on its way.
  const gcInWindow = samples.map((o) =>
    gc.filter((g) => g.at + g.ms >= o.sentAt && g.at <= o.firstTokenAt).reduce((sum, g) => sum + g.ms, 0),
  );
  const hit = gcInWindow.filter((x) => x > 0);
  const slowest = [...samples.keys()]
    .sort((a, b) => samples[b]!.ttft - samples[a]!.ttft)
    .slice(0, Math.max(1, Math.ceil(samples.length / 20)));
  console.log(
    `\nGarbage collection in the platform process during the first-token window: ${hit.length} of ${samples.length} answers, ${ms(percentile(hit, 50))} p50 / ${ms(percentile(hit, 95))} p95 when it happened; in the slowest 5% of answers: ${slowest.filter((i) => gcInWindow[i]! > 0).length} of ${slowest.length}, ${ms(slowest.reduce((s, i) => s + gcInWindow[i]!, 0) / slowest.length)} on average.`,
  );
  // SQL statements (besides BEGIN/COMMIT) per traced answer, and those ahead of its first token.
  const first = samples[0]!.sentAt;
  const all = statements.filter((q) => q.at >= first);
  const ahead = new Map<string, number>();
  const total = new Map<string, number>();
  const took = new Map<string, number[]>();
  for (const q of all) {
    total.set(q.sql, (total.get(q.sql) ?? 0) + 1);
    took.set(q.sql, [...(took.get(q.sql) ?? []), q.ms]);
  }
  for (const o of samples)
    for (const q of statements)
      if (q.at >= o.sentAt && q.at <= o.firstTokenAt) ahead.set(q.sql, (ahead.get(q.sql) ?? 0) + 1);
  console.log(
    `\nSQL statements per traced answer (startSession included): ${(all.length / samples.length).toFixed(1)}, of which ${([...ahead.values()].reduce((a, b) => a + b, 0) / samples.length).toFixed(1)} before its first token:\n`,
  );
  console.log('| statement | per answer | before the first token | until its result p50 / p95 |');
  console.log('| --- | --- | --- | --- |');
  for (const [sql, n] of [...total].sort((a, b) => b[1] - a[1]))
    console.log(
      `| \`${sql.replace(/\|/g, '\\|')}\` | ${(n / samples.length).toFixed(2)} | ${((ahead.get(sql) ?? 0) / samples.length).toFixed(2)} | ${ms(percentile(took.get(sql)!, 50))} / ${ms(percentile(took.get(sql)!, 95))} |`,
    );
  console.log(`\n${load()}.`);
}
for (const name of benchDatabases) await ownerSql(`DROP DATABASE ${name} WITH (FORCE)`);
process.exit(0);
