import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PgliteSqlDatabase } from '@somaagent/postgres';
import { createClient } from 'graphql-ws';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ADMIN_PASSWORD, gql } from '../support/platform';
import { freePort, type StartedProcess, startProcess } from '../support/startProcess';
import { confirmEngineCounts } from './support/engineCountOracle';

/**
 * Issue 14, item 12: crash leftovers are repaired. `npm start` (embedded: PGlite data dir,
 * subgraphs in-process) answers through the harness's real llama-server; its whole process group
 * is SIGKILLed while an answer streams, after the answer's first checkpoint. Restarted on the
 * same data dir, the platform must have marked the answer FAILED (`interrupted`) with the usage
 * of what it had stored — exact: greedy decoding lets the engine replay exactly that many tokens
 * into exactly that text — at the default price, in the session's totals, published on
 * `slm.requests`; and the same session must answer a new message normally.
 */
const root = resolve(import.meta.dirname, '../..');
const baseUrl = process.env.SOMA_LLM_BASE_URL;
const model = process.env.SOMA_LLM_MODEL;
const apiKey = process.env.SOMA_LLM_API_KEY ?? 'not-needed';
if (!baseUrl || !model)
  throw new Error('the test harness did not provide the llm engine (SOMA_LLM_BASE_URL, SOMA_LLM_MODEL)');

/** The platform's default price of soma-tiny (SOMA_MODEL_PRICES unset). */
const PRICE = { promptUsdPerMillion: 0.1, completionUsdPerMillion: 0.4 };
const SYSTEM = 'You are a test persona.';
const QUESTION = 'Write a very long story.';

const EVENTS = `subscription($s: ID!, $a: Int) {
  sessionEvents(sessionId: $s, afterSequence: $a) {
    sequence messageId type
    ... on UsageReported { promptTokens completionTokens costUsd }
    ... on GenerationFailed { code message retriable }
  }
}`;
type Event = { sequence: number; messageId: string; type: string; [k: string]: unknown };

const dataDir = mkdtempSync(join(tmpdir(), 'soma-crash-leftovers-'));
const processes: StartedProcess[] = [];

afterAll(async () => {
  for (const p of processes) await p[Symbol.asyncDispose]();
  rmSync(dataDir, { recursive: true, force: true });
});

/** This process's env minus every SOMA_* setting (embedded mode), plus the harness's llama-server. */
function embeddedEnv(port: number): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('SOMA_')) delete env[key];
  return {
    ...env,
    SOMA_PORT: String(port),
    SOMA_DATA_DIR: dataDir,
    SOMA_LLM_BASE_URL: baseUrl,
    SOMA_LLM_API_KEY: apiKey,
    SOMA_LLM_MODEL: model,
  };
}

async function npmStart(port: number) {
  const server = await startProcess('npm', ['start', '--silent'], {
    cwd: root,
    env: embeddedEnv(port),
    readyLine: /Platform admin key.*\n/,
    timeoutMs: 90_000,
  });
  processes.push(server);
  const url = /GraphQL endpoint: (\S+)/.exec(server.output())![1]!;
  const wsUrl = /subscriptions: (ws:\S+)\)/.exec(server.output())![1]!;
  const call = (query: string, variables: Record<string, unknown> = {}, token?: string) =>
    gql(url, query, variables, token);
  return { server, url, wsUrl, call };
}

/** Live members of a process group, from /proc (zombies count as dead). */
function groupMembers(pgid: number): number[] {
  return readdirSync('/proc').flatMap((entry) => {
    if (!/^\d+$/.test(entry)) return [];
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(pgrp) === pgid && state !== 'Z' ? [Number(entry)] : [];
    } catch {
      return [];
    }
  });
}

const until = async <T>(check: () => Promise<T | undefined>, ms: number, what: string): Promise<T> => {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

function subscribe(wsUrl: string, token: string, sessionId: string, after: number) {
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  const events: Event[] = [];
  const ended = new Promise<void>((settle) => {
    client.subscribe(
      { query: EVENTS, variables: { s: sessionId, a: after } },
      {
        next: (v) => {
          const e = (v.data as { sessionEvents: Event }).sessionEvents;
          events.push(e);
          if (['COMPLETED', 'CANCELLED', 'FAILED'].includes(e.type)) settle();
        },
        error: () => settle(),
        complete: () => settle(),
      },
    );
  });
  return { client, events, ended };
}

const MESSAGES = `query($id: ID!) { session(id: $id) { lastSequence usage { promptTokens completionTokens costUsd }
  messages(first: 50) { edges { node { id role status content promptTokens completionTokens costUsd finishReason } } } } }`;
interface Row {
  id: string;
  role: string;
  status: string;
  content: string;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  finishReason: string | null;
}

describe('issue 14 item 12: SIGKILL mid-stream, restart', () => {
  it('marks the interrupted answer FAILED with its exact stored usage, and the session answers again', async () => {
    const t0 = Date.now();
    const stages: string[] = [];
    const stage = (name: string) => stages.push(`${name} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const port = await freePort();
    const first = await npmStart(port);
    stage('first start');
    const platformKey = readFileSync(join(dataDir, 'platform-admin-key'), 'utf8').trim();
    const platformToken = (
      await first.call('mutation($s: String!) { exchangeApiKey(secret: $s) { accessToken } }', {
        s: platformKey,
      })
    ).data.exchangeApiKey.accessToken as string;
    const created = await first.call(
      'mutation($i: CreateTenantInput!) { createTenant(input: $i) { tenant { id } } }',
      {
        i: {
          slug: 'crashy',
          name: 'Crashy',
          adminEmail: 'admin@crashy.test',
          adminPassword: ADMIN_PASSWORD,
          adminDisplayName: 'Admin',
        },
      },
      platformToken,
    );
    expect(created.errors).toBeUndefined();
    const token = (
      await first.call('mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }', {
        i: { tenantSlug: 'crashy', email: 'admin@crashy.test', password: ADMIN_PASSWORD },
      })
    ).data.signIn.accessToken as string;
    const persona = async (name: string, maxTokens: number) => {
      const r = await first.call(
        'mutation($i: CreatePersonaInput!) { createPersona(input: $i) { id } }',
        {
          i: { name, provider: 'OPENAI_COMPATIBLE', model, systemPrompt: SYSTEM, temperature: 0, maxTokens },
        },
        token,
      );
      expect(r.errors).toBeUndefined();
      return r.data.createPersona.id as string;
    };
    const startSession = async (personaId: string) =>
      (
        await first.call(
          'mutation($i: StartSessionInput!) { startSession(input: $i) { id } }',
          { i: { personaId } },
          token,
        )
      ).data.startSession.id as string;
    const send = (call: typeof first.call, sessionId: string, content: string) =>
      call(
        'mutation($i: SendMessageInput!) { sendMessage(input: $i) { assistantMessage { id } } }',
        { i: { sessionId, content } },
        token,
      );

    // A short complete answer first: the platform's model client learns the server is
    // llama-server ('detect') and asks for its running counts from then on.
    const warm = await startSession(await persona('short', 4));
    const warmEvents = subscribe(first.wsUrl, token, warm, 0);
    await new Promise((r) => setTimeout(r, 100));
    expect((await send(first.call, warm, 'Hello.')).errors).toBeUndefined();
    await warmEvents.ended;
    await warmEvents.client.dispose();

    const sessionId = await startSession(await persona('long', 4096));
    const live = subscribe(first.wsUrl, token, sessionId, 0);
    await new Promise((r) => setTimeout(r, 100));
    const sent = await send(first.call, sessionId, QUESTION);
    expect(sent.errors).toBeUndefined();
    const messageId = sent.data.sendMessage.assistantMessage.id as string;
    // Killed once a checkpoint stored some of the answer (every 2 s by default), still streaming.
    const atKill = await until(
      async () => {
        const rows: Row[] = (
          await first.call(MESSAGES, { id: sessionId }, token)
        ).data.session.messages.edges.map((e: { node: Row }) => e.node);
        const answer = rows.find((m) => m.id === messageId)!;
        if (answer.status !== 'STREAMING')
          throw new Error(`the answer ended before the kill: ${answer.status}`);
        return answer.completionTokens > 0 ? answer : undefined;
      },
      30_000,
      'a checkpoint of the streaming answer',
    );
    const pgid = first.server.child.pid!;
    const members = groupMembers(pgid);
    const exited = new Promise((r) => first.server.child.once('exit', r));
    process.kill(-pgid, 'SIGKILL');
    await exited;
    await until(async () => (groupMembers(pgid).length === 0 ? true : undefined), 10_000, 'the group to die');
    await live.ended;
    await live.client.dispose();
    const tokensSeen = live.events.filter((e) => e.type === 'TOKEN').length;
    expect(live.events.some((e) => ['COMPLETED', 'CANCELLED', 'FAILED'].includes(e.type))).toBe(false);
    console.log(
      `[12] SIGKILLed process group ${pgid} (${members.join(', ')}) mid-stream: ${tokensSeen} tokens seen live; the row's last checkpoint: ${atKill.promptTokens} + ${atKill.completionTokens} tokens, ${atKill.content.length} chars`,
    );

    stage('killed');
    // ---- Restart on the same data dir.
    const second = await npmStart(port);
    stage('restarted');
    const after = (await second.call(MESSAGES, { id: sessionId }, token)).data.session;
    const answer: Row = after.messages.edges
      .map((e: { node: Row }) => e.node)
      .find((m: Row) => m.id === messageId);
    expect(answer.status).toBe('FAILED');
    expect(answer.finishReason).toBe('interrupted');
    expect(answer.promptTokens).toBeGreaterThan(0);
    expect(answer.completionTokens).toBeGreaterThanOrEqual(atKill.completionTokens);
    expect(answer.content.length).toBeGreaterThan(0);
    const cost =
      (answer.promptTokens * PRICE.promptUsdPerMillion +
        answer.completionTokens * PRICE.completionUsdPerMillion) /
      1e6;
    expect(answer.costUsd).toBeCloseTo(cost, 10);
    expect(after.usage).toEqual({
      promptTokens: answer.promptTokens,
      completionTokens: answer.completionTokens,
      costUsd: answer.costUsd,
    });
    // Exact: the engine, asked for exactly that many tokens of the same prompt, produces exactly
    // that text (or, when a shared server's batching made greedy decoding diverge, the served
    // model's tokenizer counts exactly that).
    const verdict = await confirmEngineCounts(
      [
        { role: 'system', content: SYSTEM },
        { role: 'user', content: QUESTION },
      ],
      { text: answer.content, promptTokens: answer.promptTokens, completionTokens: answer.completionTokens },
    );
    console.log(
      `[12] stored ${answer.promptTokens} + ${answer.completionTokens} confirmed by ${verdict.by} (${verdict.replays} replay(s))`,
    );

    stage('replayed');
    // A client that resubscribes learns how the answer ended.
    const told = subscribe(second.wsUrl, token, sessionId, after.lastSequence - 2);
    await told.ended;
    await told.client.dispose();
    expect(told.events.map((e) => e.type)).toEqual(['USAGE', 'FAILED']);
    expect(told.events[0]).toMatchObject({
      messageId,
      promptTokens: answer.promptTokens,
      completionTokens: answer.completionTokens,
    });
    expect(told.events[1]).toMatchObject({ messageId, code: 'UNAVAILABLE', retriable: true });
    expect(told.events[1]!.sequence).toBe(after.lastSequence);

    // The session is not left busy: a new message streams normally to the end.
    const next = subscribe(second.wsUrl, token, sessionId, after.lastSequence);
    await new Promise((r) => setTimeout(r, 100));
    const again = await send(second.call, sessionId, 'Hello again.');
    expect(again.errors).toBeUndefined();
    await next.ended;
    await next.client.dispose();
    expect(next.events.filter((e) => e.type === 'TOKEN').length).toBeGreaterThan(0);
    expect(next.events.at(-1)?.type).toBe('COMPLETED');
    expect(next.events[0]!.sequence).toBe(after.lastSequence + 1);
    stage(`next answer (${next.events.filter((e) => e.type === 'TOKEN').length} tokens)`);

    // ---- Clean stop; the data dir: one slm.requests row for the repaired answer, published.
    await second.server[Symbol.asyncDispose]();
    const db = await PgliteSqlDatabase.open(join(dataDir, 'pglite'));
    try {
      const rows = await db.asOwner(
        async (tx) =>
          (
            await tx.query<{ payload: Record<string, unknown>; published: boolean }>(
              `SELECT payload, published_at IS NOT NULL AS published FROM sessions.outbox
                WHERE topic = 'slm.requests' AND payload->>'messageId' = $1`,
              [messageId],
            )
          ).rows,
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]!.published).toBe(true);
      expect(rows[0]!.payload).toMatchObject({
        status: 'FAILED',
        finishReason: 'interrupted',
        promptTokens: answer.promptTokens,
        completionTokens: answer.completionTokens,
        usageSource: 'checkpoint',
      });
    } finally {
      await db[Symbol.asyncDispose]();
    }
    stage('checked the data dir');
    console.log(`[12] stages: ${stages.join('; ')}`);
  }, 240_000);
});
