// bench/sessions: what the platform adds on top of the model server, measured side by side in
// one run against the harness's llama.cpp server (engine `llm`, brought up if needed).
//
//   npx tsx bench/sessions/bench.ts [--runs 30] [--concurrency 100,1000] [--max-tokens 24]
//
// 1. Time to first token and inter-token gap: the `openai` client straight to llama-server
//    (baseline) vs a GraphQL client through the router (sendMessage + sessionEvents over
//    graphql-ws), sequential runs, p50/p95 and the ratio.
// 2. N concurrent streaming sessions through the router: token delivery lag (client receipt
//    minus the moment the subgraph emitted the token), errors, process RSS.
// Prints numbers only; asserts nothing (CONVENTIONS: speed lives here, not in tests).
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { OpenAICompatibleChatModel } from '@somaagent/models';
import { startPlatform } from '@somaagent/platform';
import { PgliteSqlDatabase } from '@somaagent/postgres';
import { createClient } from 'graphql-ws';
import OpenAI from 'openai';
import WebSocket from 'ws';
import { engineByName } from '../../scripts/infra/engines/index';
import { up } from '../../scripts/infra/infra';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '30' },
    concurrency: { type: 'string', default: '100,1000' },
    'max-tokens': { type: 'string', default: '24' },
  },
});
const runs = Number(values.runs);
const levels = values.concurrency!.split(',').map(Number);
const maxTokens = Number(values['max-tokens']);

const percentile = (xs: number[], p: number) => {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
const ms = (x: number) => `${x.toFixed(2)} ms`;

console.error('[bench] bringing up the llm engine…');
const { env } = await up([engineByName('llm')], { progress: (e, m) => console.error(`[infra] ${e}: ${m}`) });
const baseURL = env.SOMA_LLM_BASE_URL!;
const model = env.SOMA_LLM_MODEL!;
const apiKey = env.SOMA_LLM_API_KEY ?? 'not-needed';

const db = await PgliteSqlDatabase.open();
const platformAdminKey = `sk_platform_${randomBytes(32).toString('base64url')}`;
const platform = await startPlatform({
  db,
  issuer: 'http://bench.somaagent',
  routerSecret: randomBytes(32).toString('base64url'),
  platformAdminKey,
  models: { OPENAI_COMPATIBLE: OpenAICompatibleChatModel.fromUrl(baseURL, apiKey) },
  prices: { [model]: { promptUsdPerMillion: 0.1, completionUsdPerMillion: 0.4 } },
  limits: { maxSubscriptionsPerConnection: 20 },
});

async function gql(query: string, variables: Record<string, unknown>, token?: string) {
  const res = await fetch(platform.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: a benchmark reads a few known fields of each answer
  const body = (await res.json()) as { data?: Record<string, any>; errors?: unknown[] };
  if (!body.data) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

const platformToken = (
  await gql('mutation($s: String!) { exchangeApiKey(secret: $s) { accessToken } }', { s: platformAdminKey })
).exchangeApiKey.accessToken;
await gql(
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
  await gql('mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }', {
    i: { tenantSlug: 'bench', email: 'bench@bench.test', password: 'bench-password-123' },
  })
).signIn.accessToken;
const personaId = (
  await gql(
    'mutation($i: CreatePersonaInput!) { createPersona(input: $i) { id } }',
    { i: { name: 'bench', model, systemPrompt: 'You are a benchmark.', temperature: 0.8, maxTokens } },
    token,
  )
).createPersona.id;

const messages = [
  { role: 'system' as const, content: 'You are a benchmark.' },
  { role: 'user' as const, content: 'Tell me something.' },
];

// ---------------------------------------------------------------------------------------------
// 1. sequential: direct vs through the router
const direct = { ttft: [] as number[], gap: [] as number[] };
const openai = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  let last = 0;
  const stream = await openai.chat.completions.create({
    model,
    messages,
    max_tokens: maxTokens,
    stream: true,
    temperature: 0.8,
  });
  for await (const chunk of stream) {
    if (!chunk.choices[0]?.delta?.content) continue;
    const now = performance.now();
    if (last === 0) direct.ttft.push(now - t0);
    else direct.gap.push(now - last);
    last = now;
  }
}

const wsClient = () =>
  createClient({
    url: platform.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: false,
  });

interface Observed {
  ttft: number;
  /** Round trip of the sendMessage mutation (router → sessions subgraph → database → back). */
  sendMs: number;
  gaps: number[];
  lags: number[];
  error?: string;
}

/** One session: subscribe, send, collect until a terminal event. */
async function oneSession(client: ReturnType<typeof createClient>): Promise<Observed> {
  const sessionId = (
    await gql(
      'mutation($i: StartSessionInput!) { startSession(input: $i) { id } }',
      { i: { personaId } },
      token,
    )
  ).startSession.id;
  const observed: Observed = { ttft: Number.NaN, sendMs: Number.NaN, gaps: [], lags: [] };
  let t0 = 0;
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
          const e = (v.data as { sessionEvents: { type: string; occurredAt: string; message?: string } })
            .sessionEvents;
          const now = performance.now();
          if (e.type === 'TOKEN') {
            if (last === 0) observed.ttft = now - t0;
            else observed.gaps.push(now - last);
            last = now;
            observed.lags.push(Date.now() - Date.parse(e.occurredAt));
          } else if (e.type !== 'USAGE') {
            if (e.type !== 'COMPLETED') observed.error = `${e.type}: ${e.message ?? ''}`;
            stop();
            resolve();
          }
        },
        error: (err) => {
          observed.error = JSON.stringify(err).slice(0, 200);
          resolve();
        },
        complete: () => resolve(),
      },
    );
    // The subgraph has registered the subscription once the router forwarded it; a short wait
    // keeps the first token from racing the subscribe (the log would replay it anyway).
    setTimeout(subscribed, 50);
  });
  await ready;
  t0 = performance.now();
  await gql(
    'mutation($i: SendMessageInput!) { sendMessage(input: $i) { afterSequence } }',
    {
      i: { sessionId, content: 'Tell me something.' },
    },
    token,
  );
  observed.sendMs = performance.now() - t0;
  await done;
  return observed;
}

const routed = { ttft: [] as number[], gap: [] as number[], send: [] as number[] };
{
  const client = wsClient();
  for (let i = 0; i < runs; i++) {
    const o = await oneSession(client);
    if (o.error) throw new Error(o.error);
    routed.ttft.push(o.ttft);
    routed.send.push(o.sendMs);
    routed.gap.push(...o.gaps);
  }
  await client.dispose();
}

console.log(`\n## Sequential (${runs} answers of ≤ ${maxTokens} tokens each, model ${model})\n`);
console.log(
  '| metric | direct (openai → llama-server) | through router (GraphQL subscription) | ratio | added |',
);
console.log('| --- | --- | --- | --- | --- |');
for (const [name, a, b] of [
  ['TTFT p50', percentile(direct.ttft, 50), percentile(routed.ttft, 50)],
  ['TTFT p95', percentile(direct.ttft, 95), percentile(routed.ttft, 95)],
  ['inter-token p50', percentile(direct.gap, 50), percentile(routed.gap, 50)],
  ['inter-token p95', percentile(direct.gap, 95), percentile(routed.gap, 95)],
] as const) {
  console.log(`| ${name} | ${ms(a)} | ${ms(b)} | ${(b / a).toFixed(2)}x | ${ms(b - a)} |`);
}
console.log(
  `\nOf the routed TTFT, the sendMessage mutation round trip (router → subgraph → database → back) took p50 ${ms(percentile(routed.send, 50))}, p95 ${ms(percentile(routed.send, 95))}.`,
);

// ---------------------------------------------------------------------------------------------
// 2. concurrency
console.log('\n## Concurrent streaming sessions through the router\n');
console.log('| sessions | completed | errors | token lag p50 | token lag p95 | wall time | RSS after |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const n of levels) {
  // 20 subscriptions per socket (the router's per-connection cap), as a busy app would multiplex.
  const clients = Array.from({ length: Math.ceil(n / 20) }, wsClient);
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      oneSession(clients[i % clients.length]!).catch(
        (error: Error) => ({ ttft: 0, sendMs: 0, gaps: [], lags: [], error: error.message }) as Observed,
      ),
    ),
  );
  const wall = performance.now() - started;
  const errors = results.filter((r) => r.error);
  const lags = results.flatMap((r) => r.lags);
  console.log(
    `| ${n} | ${n - errors.length} | ${errors.length} | ${ms(percentile(lags, 50))} | ${ms(percentile(lags, 95))} | ${(wall / 1000).toFixed(1)} s | ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB |`,
  );
  if (errors.length) console.log(`  first error: ${errors[0]!.error}`);
  await Promise.all(clients.map((c) => c.dispose()));
}
console.log(
  '\nToken lag = client receipt − the moment the sessions subgraph emitted the token (same clock), i.e. the router + subgraph delivery path. RSS is the whole embedded platform process (router, subgraphs, PGlite).',
);

await platform.close();
await db[Symbol.asyncDispose]();
process.exit(0);
