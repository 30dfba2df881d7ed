import { OpenAICompatibleChatModel } from '@somaagent/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../support/platform';

// Sessions use memory: a persona with recallK > 0 gets the caller's top-k memories (hybrid
// retrieval in the memory subgraph) in its prompt, and the answer lists them as citations whose
// items the router resolves from the memory subgraph (a federated entity reference).
const baseUrl = process.env.SOMA_LLM_BASE_URL;
const model = process.env.SOMA_LLM_MODEL;
if (!baseUrl || !model) throw new Error('the test harness did not provide the llm engine');

let t: TestPlatform;
let tenant: Awaited<ReturnType<TestPlatform['createTenant']>>;

beforeAll(async () => {
  t = await startTestPlatform({
    models: { OPENAI_COMPATIBLE: OpenAICompatibleChatModel.fromUrl(baseUrl, process.env.SOMA_LLM_API_KEY) },
    prices: { [model]: { promptUsdPerMillion: 1, completionUsdPerMillion: 1 } },
  });
  tenant = await t.createTenant('recall');
});
afterAll(async () => {
  await t?.[Symbol.asyncDispose]();
});

const createPersona = async (token: string, name: string, recallK: number) => {
  const r = await t.gql(
    'mutation($i: CreatePersonaInput!) { createPersona(input: $i) { id recallK } }',
    { i: { name, model, systemPrompt: 'Answer from memory.', maxTokens: 8, recallK } },
    token,
  );
  if (!r.data) throw new Error(JSON.stringify(r.errors));
  return r.data.createPersona.id as string;
};

async function askAndWait(token: string, personaId: string, content: string) {
  const session = await t.gql(
    'mutation($i: StartSessionInput!) { startSession(input: $i) { id } }',
    { i: { personaId } },
    token,
  );
  const sessionId = session.data.startSession.id;
  const sent = await t.gql(
    'mutation($i: SendMessageInput!) { sendMessage(input: $i) { assistantMessage { id } } }',
    { i: { sessionId, content } },
    token,
  );
  if (!sent.data) throw new Error(JSON.stringify(sent.errors));
  for (let i = 0; i < 100; i++) {
    const r = await t.gql(
      `query($id: ID!) { session(id: $id) { messages { edges { node { role status promptTokens
         citations { marker score memoryItem { id text } } } } } } }`,
      { id: sessionId },
      token,
    );
    const answer = r.data.session.messages.edges[1].node;
    if (answer.status !== 'STREAMING') return answer;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error('no answer');
}

describe('sessions recall memory', () => {
  it('puts the caller’s top-k memories in the prompt and cites them, resolved through federation', async () => {
    const remembered: string[] = [];
    for (const text of [
      'The staging database is backed up every night at 02:00 UTC.',
      'Our launch code name is PELICAN and the launch date is March 3.',
      'Coffee in the office kitchen is free on Fridays.',
    ]) {
      const r = await t.gql(
        'mutation($i: RememberInput!) { remember(input: $i) { id } }',
        { i: { text, scope: { kind: 'TENANT' } } },
        tenant.adminToken,
      );
      if (!r.data) throw new Error(JSON.stringify(r.errors));
      remembered.push(r.data.remember.id);
    }
    const withMemory = await askAndWait(
      tenant.adminToken,
      await createPersona(tenant.adminToken, 'rememberer', 2),
      'What is the launch code name and date?',
    );
    const without = await askAndWait(
      tenant.adminToken,
      await createPersona(tenant.adminToken, 'forgetful', 0),
      'What is the launch code name and date?',
    );

    expect(withMemory.status).toBe('COMPLETE');
    expect(withMemory.citations).toHaveLength(2);
    expect(withMemory.citations.map((c: { marker: number }) => c.marker)).toEqual([1, 2]);
    // The best citation is the launch memory, and its text came from the memory subgraph.
    expect(withMemory.citations[0].memoryItem.id).toBe(remembered[1]);
    expect(withMemory.citations[0].memoryItem.text).toContain('PELICAN');
    // The recalled passages really went into the prompt: the engine counted more prompt tokens.
    expect(withMemory.promptTokens).toBeGreaterThan(without.promptTokens + 10);
    expect(without.citations).toEqual([]);
  });

  it('a caller without memory:read gets an answer without memory (a persona never reads more than its user)', async () => {
    const personaId = await createPersona(tenant.adminToken, 'shared', 3);
    const key = await t.gql(
      'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }',
      { i: { name: 'chat-only', capabilities: ['sessions:read', 'sessions:write'] } },
      tenant.adminToken,
    );
    const token = (
      await t.gql('mutation($s: String!) { exchangeApiKey(secret: $s) { accessToken } }', {
        s: key.data.createApiKey.secret,
      })
    ).data.exchangeApiKey.accessToken;
    const answer = await askAndWait(token, personaId, 'What is the launch code name?');
    expect(answer.status).toBe('COMPLETE');
    expect(answer.citations).toEqual([]);
  });

  it('recallK out of range is BAD_USER_INPUT', async () => {
    const r = await t.gql(
      'mutation($i: CreatePersonaInput!) { createPersona(input: $i) { id } }',
      { i: { name: 'greedy', model, systemPrompt: 'x', recallK: 21 } },
      tenant.adminToken,
    );
    expect(r.code).toBe('BAD_USER_INPUT');
    expect(r.errors?.[0]?.message).toMatch(/recallK/);
  });
});
