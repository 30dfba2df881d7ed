import { KafkaEventBus } from '@somaagent/kafka';
import { OpenAICompatibleChatModel } from '@somaagent/models';
import type { EventEnvelope } from '@somaagent/ports';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../support/platform';

// Distributed mode for the sessions domain's events: the outbox relay publishes to the real
// Kafka broker of the harness, and an independent consumer group reads them back.
const brokers = process.env.SOMA_KAFKA_BROKERS?.split(',');
const baseUrl = process.env.SOMA_LLM_BASE_URL;
const model = process.env.SOMA_LLM_MODEL;
if (!brokers || !baseUrl || !model) throw new Error('the test harness did not provide kafka and llm');
const kafka = () => new Kafka({ clientId: 'soma-e2e', brokers, logLevel: logLevel.NOTHING });

let t: TestPlatform;
let bus: KafkaEventBus;
let reader: KafkaEventBus;

beforeAll(async () => {
  bus = new KafkaEventBus(kafka());
  reader = new KafkaEventBus(kafka());
  t = await startTestPlatform({
    events: bus,
    models: { OPENAI_COMPATIBLE: OpenAICompatibleChatModel.fromUrl(baseUrl, process.env.SOMA_LLM_API_KEY) },
    prices: { [model]: { promptUsdPerMillion: 1, completionUsdPerMillion: 2 } },
  });
});
afterAll(async () => {
  await t?.[Symbol.asyncDispose]();
  await bus?.[Symbol.asyncDispose]();
  await reader?.[Symbol.asyncDispose]();
});

async function until(
  it: AsyncIterator<EventEnvelope>,
  found: (e: EventEnvelope) => boolean,
  timeoutMs = 30_000,
) {
  const seen: EventEnvelope[] = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await it.next();
    if (r.done) break;
    seen.push(r.value);
    if (found(r.value)) return seen;
  }
  throw new Error(`not found in ${JSON.stringify(seen.map((e) => e.type))}`);
}

describe('sessions events on Kafka through the outbox', () => {
  it('slm.requests carries the exact usage recorded; conversation.events the message lifecycle', async () => {
    const slm = reader.subscribe('slm.requests');
    const conversation = reader.subscribe('conversation.events');
    await Promise.all([slm.ready, conversation.ready]);

    const tenant = await t.createTenant('kafka-chat');
    const persona = await t.gql(
      'mutation($i: CreatePersonaInput!) { createPersona(input: $i) { id } }',
      { i: { name: 'k', model, systemPrompt: 'Be brief.', maxTokens: 12 } },
      tenant.adminToken,
    );
    const session = await t.gql(
      'mutation($i: StartSessionInput!) { startSession(input: $i) { id } }',
      { i: { personaId: persona.data.createPersona.id } },
      tenant.adminToken,
    );
    const sessionId = session.data.startSession.id;
    const sent = await t.gql(
      'mutation($i: SendMessageInput!) { sendMessage(input: $i) { assistantMessage { id } } }',
      { i: { sessionId, content: 'hello kafka' } },
      tenant.adminToken,
    );
    const messageId = sent.data.sendMessage.assistantMessage.id;

    const slmEvents = await until(slm, (e) => (e.payload as { messageId?: string }).messageId === messageId);
    const request = slmEvents.at(-1)!;
    expect(request.tenantId).toBe(tenant.tenantId);
    const stored = await t.gql(
      'query($id: ID!) { session(id: $id) { messages { edges { node { id promptTokens completionTokens costUsd } } } } }',
      { id: sessionId },
      tenant.adminToken,
    );
    const answer = stored.data.session.messages.edges.find(
      (e: { node: { id: string } }) => e.node.id === messageId,
    ).node;
    expect(request.payload).toMatchObject({
      sessionId,
      messageId,
      model,
      status: 'COMPLETE',
      promptTokens: answer.promptTokens,
      completionTokens: answer.completionTokens,
    });
    expect((request.payload as { costUsd: number }).costUsd).toBeCloseTo(answer.costUsd, 10);

    const lifecycle = await until(
      conversation,
      (e) => e.type === 'message.complete' && (e.payload as { messageId?: string }).messageId === messageId,
    );
    const types = lifecycle
      .filter((e) => (e.payload as { sessionId?: string }).sessionId === sessionId)
      .map((e) => e.type);
    expect(types).toEqual(['session.started', 'message.created', 'message.complete']);
    await slm.return?.();
    await conversation.return?.();
  });
});
