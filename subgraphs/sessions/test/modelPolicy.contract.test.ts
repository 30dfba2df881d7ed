import { randomUUID } from 'node:crypto';
import { InMemoryStreamLog, InProcessEventBus } from '@somaagent/events';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import { OpenAICompatibleChatModel } from '@somaagent/models';
import {
  createPolicyDecider,
  createWasmPolicyEvaluator,
  OpaServerPolicyEvaluator,
  type PolicyDecisionAudit,
  type PolicyEvaluator,
  publishPoliciesToOpa,
  readPolicySources,
  type WasmPolicyEvaluator,
} from '@somaagent/policy';
import type { ChatModel, EventEnvelope } from '@somaagent/ports';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestPostgresSqlDatabase } from '../../../tests/support/postgres';
import { freePort } from '../../../tests/support/startProcess';
import {
  createSessionsSubgraph,
  MODEL_POLICY,
  type SessionsSubgraph,
  sessionsMigrations,
} from '../src/index';

// Every model call asks the tenant's constitution (`constitution.model`), on both evaluators of
// the same Rego: the committed wasm in-process and the harness's OPA server. Personas are
// created through the service, then the tenant's constitution is tightened: a constitution that
// changed after the persona was created (creation itself is gated by `constitution.persona`,
// at the router). The model is the harness's llama.cpp server with an untrained model: these
// tests assert mechanics only.
const baseUrl = process.env.SOMA_LLM_BASE_URL;
const model = process.env.SOMA_LLM_MODEL;
const apiKey = process.env.SOMA_LLM_API_KEY ?? 'not-needed';
if (!baseUrl || !model)
  throw new Error('the test harness did not provide the llm engine (SOMA_LLM_BASE_URL, SOMA_LLM_MODEL)');
const opa = inject('opa');

const PERSONA_MAX_TOKENS = 24;

interface Engine {
  name: string;
  create: () => Promise<PolicyEvaluator>;
  /** Replaces the tenant's constitution entries (merged over the default by the Rego). */
  constitute: (evaluator: PolicyEvaluator, tenantId: string, entries: object) => Promise<void>;
}

const defaultData = async () => {
  const data = readPolicySources().find((s) => s.kind === 'data')!;
  return JSON.parse(data.text) as { default: object; tenants: Record<string, object> };
};

const engines: Engine[] = [
  {
    name: 'WasmPolicyEvaluator (in-process)',
    create: () => createWasmPolicyEvaluator(),
    constitute: async (evaluator, tenantId, entries) => {
      const constitutions = await defaultData();
      (evaluator as WasmPolicyEvaluator).setData({
        somaagent: { constitutions: { ...constitutions, tenants: { [tenantId]: entries } } },
      });
    },
  },
  {
    name: 'OpaServerPolicyEvaluator (opa run --server)',
    create: async () => {
      await publishPoliciesToOpa(opa.url);
      return new OpaServerPolicyEvaluator({ url: opa.url });
    },
    // Only this test's random tenant id is written: other suites sharing the server see nothing.
    constitute: async (_evaluator, tenantId, entries) => {
      const r = await fetch(`${opa.url}/v1/data/somaagent/constitutions/tenants/${tenantId}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(entries),
      });
      if (!r.ok) throw new Error(`OPA data PUT: ${r.status} ${await r.text()}`);
    },
  },
];

const claimsFor = (tenantId: string): VerifiedClaims => ({
  subject: randomUUID(),
  tenantId,
  roles: ['admin'],
  capabilities: ['*'],
  platformAdmin: false,
  issuer: 'http://somaagent.test',
  expiresAt: Math.floor(Date.now() / 1000) + 600,
  authMethod: 'password',
});

/** The real model, with a count of the calls made to it (instrumentation, not a stand-in). */
function countingModel(inner: ChatModel) {
  const counted = {
    kind: inner.kind,
    calls: 0,
    lastRequest: undefined as Parameters<ChatModel['stream']>[0] | undefined,
    [Symbol.asyncDispose]: () => inner[Symbol.asyncDispose](),
    stream: (request: Parameters<ChatModel['stream']>[0]) => {
      counted.calls++;
      counted.lastRequest = request;
      return inner.stream(request);
    },
  };
  return counted;
}

async function storedCounts(db: TestPostgresSqlDatabase, tenantId: string, sessionId: string) {
  return db.withScope({ tenantId }, async (tx) => {
    const messages = await tx.query<{ n: string }>(
      'SELECT count(*) AS n FROM sessions.messages WHERE session_id = $1',
      [sessionId],
    );
    const outbox = await tx.query<{ n: string }>('SELECT count(*) AS n FROM sessions.outbox');
    const session = await tx.query<{ last_sequence: string; updated_at: Date }>(
      'SELECT last_sequence, updated_at FROM sessions.sessions WHERE id = $1',
      [sessionId],
    );
    return {
      messages: Number(messages.rows[0]!.n),
      outbox: Number(outbox.rows[0]!.n),
      lastSequence: Number(session.rows[0]!.last_sequence),
      updatedAt: session.rows[0]!.updated_at.toISOString(),
    };
  });
}

describe.each(engines)('model use gated by constitution.model on $name', (engine) => {
  let db: TestPostgresSqlDatabase;
  let evaluator: PolicyEvaluator;
  let subgraph: SessionsSubgraph;
  let llm: ReturnType<typeof countingModel>;
  const audits: PolicyDecisionAudit[] = [];
  const events = new InProcessEventBus();
  const streams = new InMemoryStreamLog();
  const tenantId = randomUUID();
  const claims = claimsFor(tenantId);
  let personaId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    await db.migrate(sessionsMigrations);
    evaluator = await engine.create();
    // The tenant starts on the platform default (every model, ≤ 4,096 tokens per request).
    await engine.constitute(evaluator, tenantId, {});
    llm = countingModel(OpenAICompatibleChatModel.fromUrl(baseUrl, apiKey));
    const audit = events.subscribe('agent.audit');
    void (async () => {
      for await (const e of audit as AsyncIterable<EventEnvelope>)
        audits.push(e.payload as PolicyDecisionAudit);
    })();
    await audit.ready;
    subgraph = await createSessionsSubgraph({
      db,
      events,
      streams,
      models: { OPENAI_COMPATIBLE: llm },
      prices: { [model]: { promptUsdPerMillion: 1, completionUsdPerMillion: 1 } },
      policy: createPolicyDecider({ evaluator, audit: events }),
      outboxPollMs: 60_000,
    });
    personaId = (
      await subgraph.service.createPersona(claims, {
        name: 'gated',
        provider: 'OPENAI_COMPATIBLE',
        model,
        systemPrompt: 'You are a test persona.',
        maxTokens: PERSONA_MAX_TOKENS,
      })
    ).id;
  });
  afterAll(async () => {
    await engine.constitute(evaluator, tenantId, {}).catch(() => undefined);
    await subgraph?.[Symbol.asyncDispose]();
    await events[Symbol.asyncDispose]();
    await db?.[Symbol.asyncDispose]();
  });

  const untilIdle = async () => {
    const started = Date.now();
    while (subgraph.service.activeGenerations() > 0 && Date.now() - started < 30_000)
      await new Promise((r) => setTimeout(r, 20));
  };

  it('allowed by the default constitution: the model is called, the decision audited', async () => {
    const session = await subgraph.service.startSession(claims, { personaId });
    const before = llm.calls;
    const sent = await subgraph.service.sendMessage(claims, { sessionId: session.id, content: 'Hello.' });
    expect(sent.assistantMessage.status).toBe('STREAMING');
    await untilIdle();
    expect(llm.calls).toBe(before + 1);
    expect((await storedCounts(db, tenantId, session.id)).messages).toBe(2);
    const answer = await subgraph.service.messageById(claims, sent.assistantMessage.id);
    expect(answer?.status).toBe('COMPLETE');
    expect(audits.at(-1)).toMatchObject({
      policy: MODEL_POLICY,
      subject: claims.subject,
      result: 'allow',
      fieldPath: 'sendMessage',
      engine: evaluator.kind,
      outcome: 'decided',
    });
  });

  it.each([
    [
      'maxTokensPerRequest lowered below the persona’s maxTokens',
      { maxTokensPerRequest: 16 },
      `${PERSONA_MAX_TOKENS} tokens per request exceed the tenant's limit of 16`,
    ],
    [
      'the persona’s model no longer allowed',
      { allowedModels: ['some-other-model'] },
      `model "${model}" is not allowed by the tenant's constitution`,
    ],
  ])(
    'constitution changed after creation (%s) → FORBIDDEN with the reasons, nothing stored, model not called',
    async (_label, entries, reason) => {
      const session = await subgraph.service.startSession(claims, { personaId });
      // One allowed answer first, so the refusal is about the change, not the session.
      await subgraph.service.sendMessage(claims, { sessionId: session.id, content: 'First.' });
      await untilIdle();
      await engine.constitute(evaluator, tenantId, entries);
      try {
        const before = await storedCounts(db, tenantId, session.id);
        const calls = llm.calls;
        const streamed = await streams.lastSequence(`session:${session.id}`);
        const error = await subgraph.service
          .sendMessage(claims, { sessionId: session.id, content: 'Second.' })
          .then(
            () => null,
            (e: { extensions?: Record<string, unknown>; message: string }) => e,
          );
        expect(error?.extensions).toMatchObject({
          code: 'FORBIDDEN',
          reason: 'POLICY_DENIED',
          policy: MODEL_POLICY,
          reasons: [reason],
        });
        expect(error?.message).toContain(reason);
        expect(llm.calls).toBe(calls);
        expect(subgraph.service.activeGenerations()).toBe(0);
        expect(await storedCounts(db, tenantId, session.id)).toEqual(before);
        expect(await streams.lastSequence(`session:${session.id}`)).toBe(streamed);
        expect(audits.at(-1)).toMatchObject({
          policy: MODEL_POLICY,
          result: 'deny',
          reasons: [reason],
          fieldPath: 'sendMessage',
        });
      } finally {
        await engine.constitute(evaluator, tenantId, {});
      }
      // Restored: the same session answers again.
      await subgraph.service.sendMessage(claims, { sessionId: session.id, content: 'Third.' });
      await untilIdle();
      expect((await storedCounts(db, tenantId, session.id)).messages).toBe(4);
    },
  );

  it('later answers: one model call each, prompted with exactly the stored history', async () => {
    // The model request starts before the transaction from this process's copy of the recent
    // history; the transaction checks it against the database. A wrong copy would show as a
    // second model call (the request restarted) or, were the check missing, a wrong prompt.
    const session = await subgraph.service.startSession(claims, { personaId });
    for (const content of ['One.', 'Two.', 'Three.']) {
      const calls = llm.calls;
      await subgraph.service.sendMessage(claims, { sessionId: session.id, content });
      await untilIdle();
      expect(llm.calls).toBe(calls + 1);
    }
    const stored = await db.withScope({ tenantId }, (tx) =>
      tx.query<{ role: string; content: string; status: string }>(
        'SELECT role, content, status FROM sessions.messages WHERE session_id = $1 ORDER BY created_at, id',
        [session.id],
      ),
    );
    // Every answer completed, so the history holds both sides.
    expect(stored.rows.map((m) => m.status)).toEqual(Array(6).fill('COMPLETE'));
    const history = stored.rows
      .slice(0, -2)
      .filter((m) => m.status === 'COMPLETE')
      .map((m) => ({ role: m.role === 'USER' ? 'user' : 'assistant', content: m.content }));
    expect(llm.lastRequest?.messages).toEqual([
      { role: 'system', content: 'You are a test persona.' },
      ...history,
      { role: 'user', content: 'Three.' },
    ]);
  });

  it('another tenant asking about this session learns nothing of its persona', async () => {
    const session = await subgraph.service.startSession(claims, { personaId });
    const stranger = claimsFor(randomUUID());
    const error = await subgraph.service
      .sendMessage(stranger, { sessionId: session.id, content: 'Let me in.' })
      .then(
        () => null,
        (e: { extensions?: Record<string, unknown>; message: string }) => e,
      );
    // Exactly what a missing session answers: no existence oracle (docs/security.md §8).
    expect(error?.extensions?.code).toBe('NOT_FOUND');
    expect(error?.extensions?.reason).toBeUndefined();
    expect(JSON.stringify(error?.extensions)).not.toContain(model);
  });
});

describe('the policy engine unreachable → UNAVAILABLE (fail-closed), nothing stored', () => {
  it('refuses the model call and stores nothing', async () => {
    await using db = await createTestDatabase();
    await db.migrate(sessionsMigrations);
    const events = new InProcessEventBus();
    const llm = countingModel(OpenAICompatibleChatModel.fromUrl(baseUrl, apiKey));
    const closed = await freePort();
    const subgraph = await createSessionsSubgraph({
      db,
      events,
      streams: new InMemoryStreamLog(),
      models: { OPENAI_COMPATIBLE: llm },
      prices: { [model]: { promptUsdPerMillion: 1, completionUsdPerMillion: 1 } },
      policy: createPolicyDecider({
        evaluator: new OpaServerPolicyEvaluator({ url: `http://127.0.0.1:${closed}`, timeoutMs: 500 }),
        audit: events,
      }),
      outboxPollMs: 60_000,
    });
    try {
      const tenantId = randomUUID();
      const claims = claimsFor(tenantId);
      const persona = await subgraph.service.createPersona(claims, {
        name: 'p',
        provider: 'OPENAI_COMPATIBLE',
        model,
        systemPrompt: '',
        maxTokens: 8,
      });
      const session = await subgraph.service.startSession(claims, { personaId: persona.id });
      const before = await storedCounts(db, tenantId, session.id);
      const error = await subgraph.service
        .sendMessage(claims, { sessionId: session.id, content: 'Hello?' })
        .then(
          () => null,
          (e: { extensions?: Record<string, unknown>; message: string }) => e,
        );
      expect(error?.extensions).toMatchObject({
        code: 'UNAVAILABLE',
        reason: 'POLICY_ENGINE_UNAVAILABLE',
        policy: MODEL_POLICY,
        retriable: true,
      });
      expect(error?.message).toMatch(/policy engine unavailable .*fail-closed/);
      expect(llm.calls).toBe(0);
      expect(await storedCounts(db, tenantId, session.id)).toEqual(before);
      expect(subgraph.service.activeGenerations()).toBe(0);
    } finally {
      await subgraph[Symbol.asyncDispose]();
      await events[Symbol.asyncDispose]();
    }
  });
});
