import { KafkaEventBus } from '@somaagent/kafka';
import type { EventEnvelope } from '@somaagent/ports';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../support/platform';

// Distributed mode for policy audit: every decision the router makes is published to the
// `agent.audit` topic of the harness's real Kafka broker.
const brokers = process.env.SOMA_KAFKA_BROKERS?.split(',');
if (!brokers) throw new Error('the test harness did not provide kafka (SOMA_KAFKA_BROKERS)');
const kafka = () => new Kafka({ clientId: 'soma-e2e-audit', brokers, logLevel: logLevel.NOTHING });

let t: TestPlatform;
let bus: KafkaEventBus;
let reader: KafkaEventBus;

beforeAll(async () => {
  bus = new KafkaEventBus(kafka());
  reader = new KafkaEventBus(kafka());
  t = await startTestPlatform({ events: bus });
});
afterAll(async () => {
  await t?.[Symbol.asyncDispose]();
  await bus?.[Symbol.asyncDispose]();
  await reader?.[Symbol.asyncDispose]();
});

describe('policy decisions audited on Kafka (agent.audit)', () => {
  it('an allowed and a denied decision arrive with subject, policy, digest, result and reasons', async () => {
    const audit = reader.subscribe('agent.audit');
    await audit.ready;
    const tenant = await t.createTenant('audited');
    const key = await t.gql(
      'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }',
      { i: { name: 'reader', capabilities: ['identity:users:read'] } },
      tenant.adminToken,
    );
    const keyToken = (
      await t.gql('mutation($s: String!) { exchangeApiKey(secret: $s) { accessToken } }', {
        s: key.data.createApiKey.secret,
      })
    ).data.exchangeApiKey.accessToken;
    const denied = await t.gql(
      'mutation($i: CreateUserInput!) { createUser(input: $i) { id } }',
      { i: { email: 'x@audited.test', displayName: 'X', password: 'long-enough-password' } },
      keyToken,
    );
    expect(denied.code).toBe('FORBIDDEN');

    const seen: EventEnvelope[] = [];
    const deadline = Date.now() + 30_000;
    const isDenial = (e: EventEnvelope) => {
      const p = e.payload as { result: string; fieldPath: string | null };
      return p.result === 'deny' && (p.fieldPath ?? '').includes('createUser');
    };
    while (Date.now() < deadline && !seen.some(isDenial)) {
      const r = await audit.next();
      if (r.done) break;
      seen.push(r.value);
    }
    const denial = seen.find(isDenial);
    expect(denial).toBeDefined();
    expect(denial!.type).toBe('policy.decision');
    expect(denial!.tenantId).toBe(tenant.tenantId);
    expect(denial!.payload).toMatchObject({ result: 'deny', outcome: 'decided' });
    const payload = denial!.payload as {
      inputDigest: string;
      reasons: string[];
      subject: string;
      policy: string;
    };
    expect(payload.inputDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(payload.reasons.length).toBeGreaterThan(0);
    expect(payload.subject).toBeTruthy();
    expect(payload.policy).toBeTruthy();
    expect(seen.some((e) => (e.payload as { result: string }).result === 'allow')).toBe(true);
    await audit.return?.();
  });
});
