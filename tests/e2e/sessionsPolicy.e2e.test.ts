import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InProcessEventBus } from '@somaagent/events';
import { OpenAICompatibleChatModel } from '@somaagent/models';
import {
  COMPILED_DIR,
  createWasmPolicyEvaluator,
  type PolicyDecisionAudit,
  type WasmPolicyEvaluator,
} from '@somaagent/policy';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../support/platform';

// Through the router: the platform's one policy engine gates persona creation (constitution.persona,
// a directive) and every model call (constitution.model, in the sessions subgraph). The tenant's
// constitution is tightened after its persona was created, through the engine's data document —
// what an operator publishing a new constitution does. Untrained model: mechanics only.
const baseUrl = process.env.SOMA_LLM_BASE_URL;
const model = process.env.SOMA_LLM_MODEL;
if (!baseUrl || !model)
  throw new Error('the test harness did not provide the llm engine (SOMA_LLM_BASE_URL, SOMA_LLM_MODEL)');

let t: TestPlatform;
let evaluator: WasmPolicyEvaluator;
const events = new InProcessEventBus();
const audits: PolicyDecisionAudit[] = [];
/** The committed data document (platform default constitution, no tenant entries). */
const compiledData = () =>
  JSON.parse(readFileSync(join(COMPILED_DIR, 'data.json'), 'utf8')) as {
    somaagent: { constitutions: { tenants: Record<string, object> } };
  };

beforeAll(async () => {
  evaluator = await createWasmPolicyEvaluator();
  const audit = events.subscribe('agent.audit');
  void (async () => {
    for await (const e of audit) audits.push(e.payload as PolicyDecisionAudit);
  })();
  await audit.ready;
  t = await startTestPlatform({
    events,
    policy: evaluator,
    models: {
      OPENAI_COMPATIBLE: OpenAICompatibleChatModel.fromUrl(
        baseUrl,
        process.env.SOMA_LLM_API_KEY ?? 'not-needed',
      ),
    },
    prices: { [model]: { promptUsdPerMillion: 1, completionUsdPerMillion: 1 } },
  });
});
afterAll(async () => {
  await t?.[Symbol.asyncDispose]();
  await events[Symbol.asyncDispose]();
});

it('a model call the constitution no longer allows → FORBIDDEN through the router, nothing stored, audited', async () => {
  const tenant = await t.createTenant('gated');
  const persona = await t.gql(
    'mutation($i: CreatePersonaInput!) { createPersona(input: $i) { id } }',
    { i: { name: 'p', model, systemPrompt: 'Test.', maxTokens: 64 } },
    tenant.adminToken,
  );
  expect(persona.errors).toBeUndefined();
  const session = await t.gql(
    'mutation($i: StartSessionInput!) { startSession(input: $i) { id } }',
    { i: { personaId: persona.data.createPersona.id } },
    tenant.adminToken,
  );
  const sessionId = session.data.startSession.id as string;
  const send = () =>
    t.gql(
      'mutation($i: SendMessageInput!) { sendMessage(input: $i) { assistantMessage { id } } }',
      { i: { sessionId, content: 'Hello.' } },
      tenant.adminToken,
    );
  const count = async () =>
    (
      await t.gql(
        'query($id: ID!) { session(id: $id) { lastSequence messages { totalCount } } }',
        { id: sessionId },
        tenant.adminToken,
      )
    ).data.session;

  const data = compiledData();
  data.somaagent.constitutions.tenants[tenant.tenantId] = { maxTokensPerRequest: 32 };
  evaluator.setData(data);
  try {
    const before = await count();
    const denied = await send();
    expect(denied.code).toBe('FORBIDDEN');
    expect(denied.errors?.[0]?.extensions).toMatchObject({
      reason: 'POLICY_DENIED',
      policy: 'constitution.model',
      reasons: ["64 tokens per request exceed the tenant's limit of 32"],
    });
    expect(denied.errors?.[0]?.message).toContain('exceed the tenant');
    expect(await count()).toEqual(before);
    expect(t.platform.sessions.activeGenerations()).toBe(0);
    expect(audits.filter((a) => a.policy === 'constitution.model').at(-1)).toMatchObject({
      result: 'deny',
      fieldPath: 'sendMessage',
      engine: 'wasm',
    });
    // The same constitution also refuses such a persona at creation (the directive).
    const refused = await t.gql(
      'mutation($i: CreatePersonaInput!) { createPersona(input: $i) { id } }',
      { i: { name: 'too-big', model, systemPrompt: 'Test.', maxTokens: 64 } },
      tenant.adminToken,
    );
    expect(refused.code).toBe('FORBIDDEN');
  } finally {
    evaluator.setData(compiledData());
  }
  const allowed = await send();
  expect(allowed.errors).toBeUndefined();
  while (t.platform.sessions.activeGenerations() > 0) await new Promise((r) => setTimeout(r, 20));
  expect((await count()).messages.totalCount).toBe(2);
});
