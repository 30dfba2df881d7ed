import { InProcessEventBus } from '@somaagent/events';
import { OpenAICompatibleChatModel } from '@somaagent/models';
import type { EventEnvelope } from '@somaagent/ports';
import { PgliteSqlDatabase } from '@somaagent/postgres';
import type { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCuttingLlmFront } from '../support/cuttingLlmFront';
import { startTestPlatform, type TestPlatform } from '../support/platform';
import { confirmEngineCounts } from './support/engineCountOracle';

/**
 * Issue 14, item 2: usage is exact when a generation is cancelled (client disconnect,
 * `cancelGeneration`), times out or fails. Through the router, against the harness's real
 * llama.cpp server. Before the fix a cancelled answer stored 0 tokens and $0 however much it
 * had streamed.
 *
 * The oracle is the engine itself: the persona decodes greedily (temperature 0), which is
 * deterministic, so asking llama-server for exactly the stored `completionTokens` of the same
 * prompt must give back exactly the stored text, with the stored prompt count as its own
 * `usage.prompt_tokens`. Counting one token more or fewer than the engine produced would give
 * a different text (or a different count).
 */
const baseUrl = process.env.SOMA_LLM_BASE_URL;
const model = process.env.SOMA_LLM_MODEL;
const apiKey = process.env.SOMA_LLM_API_KEY ?? 'not-needed';
if (!baseUrl || !model)
  throw new Error('the test harness did not provide the llm engine (SOMA_LLM_BASE_URL, SOMA_LLM_MODEL)');

const PRICE = { promptUsdPerMillion: 0.5, completionUsdPerMillion: 1.5 };
const prices = { [model]: PRICE };
const SYSTEM = 'You are a test persona.';
const QUESTION = 'Write a very long story.';
const costOf = (p: number, c: number) =>
  (p * PRICE.promptUsdPerMillion + c * PRICE.completionUsdPerMillion) / 1e6;

const EVENTS = `subscription($s: ID!) {
  sessionEvents(sessionId: $s) {
    __typename sequence messageId type
    ... on TokenDelta { delta }
    ... on UsageReported { promptTokens completionTokens costUsd }
    ... on GenerationFailed { code message retriable }
  }
}`;
const STORED = `query($id: ID!) { session(id: $id) {
  usage { promptTokens completionTokens costUsd }
  messages { edges { node { id role status content promptTokens completionTokens costUsd finishReason } } } } }`;

type Event = {
  type: string;
  messageId: string;
  delta?: string;
  promptTokens?: number;
  completionTokens?: number;
  costUsd?: number;
  code?: string;
  retriable?: boolean;
};
interface Stored {
  id: string;
  status: string;
  content: string;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  finishReason: string;
}

interface Subject {
  t: TestPlatform;
  token: string;
  personaId: string;
  /** Every `slm.requests` event the platform published. */
  published: EventEnvelope[];
}

const subjects: Subject[] = [];
const closers: (() => Promise<void>)[] = [];

async function platformWith(
  slug: string,
  chat: OpenAICompatibleChatModel,
  sessionsLimits: Record<string, number> = {},
  db?: PgliteSqlDatabase,
): Promise<Subject> {
  const events = new InProcessEventBus();
  const published: EventEnvelope[] = [];
  const feed = events.subscribe('slm.requests');
  void (async () => {
    for await (const e of feed) published.push(e);
  })();
  const t = await startTestPlatform({
    events,
    models: { OPENAI_COMPATIBLE: chat },
    prices,
    sessionsLimits,
    ...(db ? { db } : {}),
  });
  closers.push(async () => {
    await t[Symbol.asyncDispose]();
    await feed.return?.();
  });
  const tenant = await t.createTenant(slug);
  const persona = await t.gql(
    'mutation($i: CreatePersonaInput!) { createPersona(input: $i) { id } }',
    { i: { name: 'greedy', model, systemPrompt: SYSTEM, temperature: 0, maxTokens: 4096 } },
    tenant.adminToken,
  );
  if (!persona.data) throw new Error(JSON.stringify(persona.errors));
  const subject = { t, token: tenant.adminToken, personaId: persona.data.createPersona.id, published };
  subjects.push(subject);
  return subject;
}

let main: Subject;
let timed: Subject;
let broken: Subject;
let front: { url: string; close(): Promise<void> };

beforeAll(async () => {
  const llamaServer = { runningUsage: 'llama-server' as const };
  main = await platformWith('metered', OpenAICompatibleChatModel.fromUrl(baseUrl, apiKey, llamaServer));
  timed = await platformWith('timed', OpenAICompatibleChatModel.fromUrl(baseUrl, apiKey, llamaServer), {
    generationTimeoutMs: 300,
  });
  front = await startCuttingLlmFront(baseUrl, 40);
  broken = await platformWith('broken', OpenAICompatibleChatModel.fromUrl(front.url, apiKey, llamaServer));
});
afterAll(async () => {
  for (const close of closers) await close();
  await front?.close();
});

const startSession = async (s: Subject) => {
  const r = await s.t.gql(
    'mutation($i: StartSessionInput!) { startSession(input: $i) { id } }',
    { i: { personaId: s.personaId } },
    s.token,
  );
  if (!r.data) throw new Error(JSON.stringify(r.errors));
  return r.data.startSession.id as string;
};

const send = async (s: Subject, sessionId: string) => {
  const r = await s.t.gql(
    'mutation($i: SendMessageInput!) { sendMessage(input: $i) { assistantMessage { id } } }',
    { i: { sessionId, content: QUESTION } },
    s.token,
  );
  if (!r.data) throw new Error(JSON.stringify(r.errors));
  return r.data.sendMessage.assistantMessage.id as string;
};

function watch(client: ReturnType<typeof createClient>, sessionId: string) {
  const events: Event[] = [];
  let settle!: () => void;
  const ended = new Promise<void>((r) => {
    settle = r;
  });
  const stop = client.subscribe(
    { query: EVENTS, variables: { s: sessionId } },
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
  return { events, ended, stop };
}

const waitFor = async (check: () => boolean, ms: number, what: string) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

async function stored(s: Subject, sessionId: string, messageId: string) {
  const r = await s.t.gql(STORED, { id: sessionId }, s.token);
  const session = r.data.session;
  const answer: Stored = session.messages.edges
    .map((e: { node: Stored }) => e.node)
    .find((m: Stored) => m.id === messageId);
  return {
    answer,
    usage: session.usage as { promptTokens: number; completionTokens: number; costUsd: number },
  };
}

/** What every cut-short answer must satisfy: engine-exact counts, cost, totals, published. */
async function expectMetered(
  s: Subject,
  sessionId: string,
  messageId: string,
  status: string,
  label: string,
) {
  await waitFor(() => s.t.platform.sessions.activeGenerations() === 0, 10_000, 'the answer to be stored');
  const { answer, usage } = await stored(s, sessionId, messageId);
  expect(answer.status).toBe(status);
  expect(answer.content.length).toBeGreaterThan(0);
  expect(answer.promptTokens).toBeGreaterThan(0);
  expect(answer.completionTokens).toBeGreaterThan(0);
  const verdict = await confirmEngineCounts(
    [
      { role: 'system', content: SYSTEM },
      { role: 'user', content: QUESTION },
    ],
    { text: answer.content, promptTokens: answer.promptTokens, completionTokens: answer.completionTokens },
  );
  console.log(
    `[02 ${label}] stored ${answer.status}/${answer.finishReason}: ${answer.promptTokens} prompt + ${answer.completionTokens} completion tokens, $${answer.costUsd}, ${answer.content.length} chars; ` +
      `confirmed by ${verdict.by} (${verdict.replays} replay${verdict.replays > 1 ? 's' : ''}; last: ${verdict.replay.promptTokens} + ${verdict.replay.completionTokens}, same text: ${verdict.replay.text === answer.content})`,
  );
  expect(answer.costUsd).toBeCloseTo(costOf(answer.promptTokens, answer.completionTokens), 10);
  // The session's totals hold this answer (a fresh session: only this one).
  expect(usage).toEqual({
    promptTokens: answer.promptTokens,
    completionTokens: answer.completionTokens,
    costUsd: answer.costUsd,
  });
  // Published like a completed answer: one slm.requests event with the same usage and cost.
  await waitFor(
    () => s.published.some((e) => (e.payload as { messageId?: string }).messageId === messageId),
    10_000,
    'the slm.requests event',
  );
  const events = s.published.filter((e) => (e.payload as { messageId?: string }).messageId === messageId);
  expect(events).toHaveLength(1);
  expect(events[0]!.payload).toMatchObject({
    sessionId,
    messageId,
    model,
    status,
    promptTokens: answer.promptTokens,
    completionTokens: answer.completionTokens,
    usageSource: 'engine',
  });
  expect((events[0]!.payload as { costUsd: number }).costUsd).toBeCloseTo(answer.costUsd, 10);
  return answer;
}

describe('issue 14 item 2: a generation cut short is metered exactly', () => {
  it('cancelled by the client disconnecting: the tokens produced, at their cost, stored and published', async () => {
    const sessionId = await startSession(main);
    const client = main.t.wsClient(main.token);
    const live = watch(client, sessionId);
    await new Promise((r) => setTimeout(r, 100));
    const messageId = await send(main, sessionId);
    await waitFor(() => live.events.filter((e) => e.type === 'TOKEN').length >= 5, 10_000, '5 tokens');
    await client.dispose(); // the disconnect; the answer is cancelled after the 300 ms grace
    const answer = await expectMetered(main, sessionId, messageId, 'CANCELLED', 'disconnect');
    expect(answer.finishReason).toBe('cancelled');
  });

  it('cancelled by cancelGeneration: the returned message and the UsageReported event carry the same exact usage', async () => {
    const sessionId = await startSession(main);
    const live = watch(main.t.wsClient(main.token), sessionId);
    await new Promise((r) => setTimeout(r, 100));
    const messageId = await send(main, sessionId);
    await waitFor(() => live.events.filter((e) => e.type === 'TOKEN').length >= 5, 10_000, '5 tokens');
    const cancelled = await main.t.gql(
      'mutation($s: ID!) { cancelGeneration(sessionId: $s) { id status promptTokens completionTokens costUsd } }',
      { s: sessionId },
      main.token,
    );
    expect(cancelled.errors).toBeUndefined();
    await live.ended;
    const answer = await expectMetered(main, sessionId, messageId, 'CANCELLED', 'cancelGeneration');
    expect(cancelled.data.cancelGeneration).toEqual({
      id: messageId,
      status: 'CANCELLED',
      promptTokens: answer.promptTokens,
      completionTokens: answer.completionTokens,
      costUsd: answer.costUsd,
    });
    const reported = live.events.find((e) => e.type === 'USAGE')!;
    expect(reported).toMatchObject({
      promptTokens: answer.promptTokens,
      completionTokens: answer.completionTokens,
    });
    expect(reported.costUsd).toBeCloseTo(answer.costUsd, 10);
    expect(live.events.at(-1)?.type).toBe('CANCELLED');
    // Streamed text = stored text: the client saw what it is billed for.
    const streamed = live.events
      .filter((e) => e.type === 'TOKEN')
      .map((e) => e.delta)
      .join('');
    expect(streamed).toBe(answer.content);
  });

  it('timed out (generationTimeoutMs 300): FAILED, finishReason timeout, retriable, metered exactly', async () => {
    const sessionId = await startSession(timed);
    const live = watch(timed.t.wsClient(timed.token), sessionId);
    await new Promise((r) => setTimeout(r, 100));
    const messageId = await send(timed, sessionId);
    await live.ended;
    expect(live.events.at(-1)).toMatchObject({ type: 'FAILED', code: 'UNAVAILABLE', retriable: true });
    const answer = await expectMetered(timed, sessionId, messageId, 'FAILED', 'timeout');
    expect(answer.finishReason).toBe('timeout');
  });

  it('failed (the model stream broke off mid-answer): FAILED, metered exactly', async () => {
    const sessionId = await startSession(broken);
    const live = watch(broken.t.wsClient(broken.token), sessionId);
    await new Promise((r) => setTimeout(r, 100));
    const messageId = await send(broken, sessionId);
    await live.ended;
    expect(live.events.at(-1)).toMatchObject({ type: 'FAILED', code: 'UNAVAILABLE', retriable: true });
    const answer = await expectMetered(broken, sessionId, messageId, 'FAILED', 'broke off');
    expect(answer.finishReason).toBe('error');
  });

  it('embedded, answered first and then not stored (the session was closed behind the platform): still metered', async () => {
    // On the in-process database the first token goes out before the messages are stored
    // (answerFirst). Closing the session behind the platform's back makes that storing fail:
    // nothing is stored, but the tokens the engine produced are metered on the session's
    // totals and on slm.requests (FAILED, not_stored).
    const db = await PgliteSqlDatabase.open();
    const embedded = await platformWith(
      'unstored',
      OpenAICompatibleChatModel.fromUrl(baseUrl, apiKey, { runningUsage: 'llama-server' }),
      {},
      db,
    );
    const sessionId = await startSession(embedded);
    const live = watch(embedded.t.wsClient(embedded.token), sessionId);
    await new Promise((r) => setTimeout(r, 100));
    // A first answer (cancelled, so the next prompt is [system, question, question]): the session is now known here.
    const firstId = await send(embedded, sessionId);
    await waitFor(() => live.events.filter((e) => e.type === 'TOKEN').length >= 3, 10_000, '3 tokens');
    await embedded.t.gql(
      'mutation($s: ID!) { cancelGeneration(sessionId: $s) { id } }',
      { s: sessionId },
      embedded.token,
    );
    await live.ended;
    const first = await expectMetered(embedded, sessionId, firstId, 'CANCELLED', 'embedded first');

    await db.asOwner((tx) =>
      tx.query(`UPDATE sessions.sessions SET status = 'CLOSED' WHERE id = $1`, [sessionId]),
    );
    const second = watch(embedded.t.wsClient(embedded.token), sessionId);
    await new Promise((r) => setTimeout(r, 100));
    const refused = await embedded.t.gql(
      'mutation($i: SendMessageInput!) { sendMessage(input: $i) { assistantMessage { id } } }',
      { i: { sessionId, content: QUESTION } },
      embedded.token,
    );
    expect(refused.code).toBe('CONFLICT');
    await waitFor(() => second.events.some((e) => e.type === 'FAILED'), 10_000, 'the FAILED event');
    const failed = second.events.find((e) => e.type === 'FAILED')!;
    const streamed = second.events
      .filter((e) => e.type === 'TOKEN' && e.messageId === failed.messageId)
      .map((e) => e.delta)
      .join('');
    await waitFor(
      () =>
        embedded.published.some((e) => (e.payload as { messageId?: string }).messageId === failed.messageId),
      10_000,
      'the slm.requests event of the unstored answer',
    );
    const event = embedded.published.find(
      (e) => (e.payload as { messageId?: string }).messageId === failed.messageId,
    )!;
    const usage = event.payload as { promptTokens: number; completionTokens: number; costUsd: number };
    expect(event.payload).toMatchObject({
      status: 'FAILED',
      finishReason: 'not_stored',
      usageSource: 'engine',
    });
    expect(usage.completionTokens).toBeGreaterThan(0);
    const verdict = await confirmEngineCounts(
      [
        { role: 'system', content: SYSTEM },
        { role: 'user', content: QUESTION },
        { role: 'user', content: QUESTION },
      ],
      { text: streamed, promptTokens: usage.promptTokens, completionTokens: usage.completionTokens },
    );
    console.log(
      `[02 unstored] ${usage.promptTokens} + ${usage.completionTokens} tokens metered for an answer not stored; confirmed by ${verdict.by} (${verdict.replays} replay(s); last: ${verdict.replay.promptTokens} + ${verdict.replay.completionTokens}, same text: ${verdict.replay.text === streamed})`,
    );
    expect(usage.costUsd).toBeCloseTo(costOf(usage.promptTokens, usage.completionTokens), 10);
    const totals = await db.asOwner(
      async (tx) =>
        (
          await tx.query<{ p: string; c: string }>(
            'SELECT prompt_tokens AS p, completion_tokens AS c FROM sessions.sessions WHERE id = $1',
            [sessionId],
          )
        ).rows[0]!,
    );
    expect([Number(totals.p), Number(totals.c)]).toEqual([
      first.promptTokens + usage.promptTokens,
      first.completionTokens + usage.completionTokens,
    ]);
  });
});
