import { InProcessEventBus } from '@somaagent/events';
import type { EventEnvelope } from '@somaagent/ports';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AUDIT_TOPIC,
  createPolicyDecider,
  inputDigest,
  type PolicyDecisionAudit,
  type PolicyInput,
  WasmPolicyEvaluator,
} from '../src/index';

const evaluator = await WasmPolicyEvaluator.load();
const audit = new InProcessEventBus();
const events: EventEnvelope[] = [];
void (async () => {
  for await (const event of audit.subscribe(AUDIT_TOPIC)) events.push(event);
})();
afterAll(() => audit[Symbol.asyncDispose]());

const subject = {
  subject: 'u-1',
  tenantId: 't-1',
  roles: [],
  capabilities: ['items:read'],
  platformAdmin: false,
  authMethod: 'password',
};
const operation = { type: 'query' as const, name: 'Items', rootFields: ['items'] };

describe('createPolicyDecider on the in-process engine', () => {
  it('decides synchronously, once per distinct question, and audits each evaluated decision', async () => {
    const decider = createPolicyDecider({ evaluator, audit });
    const scope = decider.forRequest();
    const ask = (required: string[]): PolicyInput => ({ policy: 'capability', subject, operation, required });
    const before = evaluator.evaluations;
    const first = scope.decideNow(ask(['items:read']));
    expect(first).not.toBeInstanceOf(Promise);
    expect(first).toMatchObject({ allow: true, unavailable: false });
    // Same subject and operation objects, same question: the request's cache answers.
    expect(scope.decideNow(ask(['items:read']))).toBe(first);
    const denied = await scope.decide(ask(['items:write']));
    expect(denied.allow).toBe(false);
    expect(evaluator.evaluations - before).toBe(2);
    expect(scope.cached).toBe(1);

    await decider.flushAudit();
    await new Promise((resolve) => setImmediate(resolve));
    const payloads = events.slice(-2).map((e) => e.payload as PolicyDecisionAudit);
    expect(payloads.map((p) => p.result)).toEqual(['allow', 'deny']);
    // The digest audited is the one explainPolicyDecision shows for the same input.
    expect(payloads[1]!.inputDigest).toBe(inputDigest(ask(['items:write'])));
  });

  it('the memoised subject text does not blur questions that differ elsewhere', async () => {
    const scope = createPolicyDecider({ evaluator }).forRequest();
    const a = scope.decideNow({ policy: 'capability', subject, required: ['items:read'] });
    const b = scope.decideNow({ policy: 'capability', subject, required: ['other'] });
    expect([(await a).allow, (await b).allow]).toEqual([true, false]);
    expect(scope.evaluated).toBe(2);
  });
});
