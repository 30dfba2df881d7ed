import { InProcessEventBus } from '@somaagent/events';
import { OpenAICompatibleChatModel } from '@somaagent/models';
import { AUDIT_TOPIC, type PolicyDecisionAudit } from '@somaagent/policy';
import type { EventEnvelope } from '@somaagent/ports';
import type { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../support/platform';

/**
 * Capsule steps gated by policy, and memory-recall steps, through the router on the embedded
 * engine (npm start's wiring): the router's decider (wasm Rego, audited on the platform's event
 * bus) gates each step as the user who started the run; memory is recalled through the
 * ContextRetriever port from the memory subgraph's service.
 */
const llm = inject('llm');

const EVENTS = `subscription($r: ID!) { capsuleRun(runId: $r, afterSequence: 0) { sequence type stepKey payload } }`;
interface RunEvent {
  sequence: number;
  type: string;
  stepKey: string | null;
  payload: Record<string, unknown>;
}

function collect(client: ReturnType<typeof createClient>, runId: string) {
  return new Promise<RunEvent[]>((resolve, reject) => {
    const events: RunEvent[] = [];
    client.subscribe(
      { query: EVENTS, variables: { r: runId } },
      {
        next: (v) => {
          if (v.errors) return reject(v.errors);
          events.push((v.data as { capsuleRun: RunEvent }).capsuleRun);
        },
        error: reject,
        complete: () => resolve(events),
      },
    );
  });
}

const CREATE = 'mutation($s: String!) { createCapsule(source: $s) { id name version } }';
const START = 'mutation($i: StartCapsuleRunInput!) { startCapsuleRun(input: $i) { id } }';
const RUN = `query($id: ID!) { capsuleRun(id: $id) { status error output steps { key kind status attempts detail output error } } }`;

const FORBIDDEN_TOOL = `name: cleanup
version: 1.0.0
steps:
  - { id: t1, kind: toolCall, tool: shell.exec, args: { cmd: "rm -rf /tmp/x" } }
  - { id: after, kind: toolCall, tool: soma.echo, args: { text: never } }
`;
const BIG_MODEL = `name: essay
version: 1.0.0
steps:
  - { id: draft, kind: modelCall, prompt: "Write a long essay", maxTokens: 10000 }
`;
const ADMINS_ONLY = `name: admins-only
version: 1.0.0
policies: [platform.admin]
steps:
  - { id: first, kind: toolCall, tool: soma.echo, args: { text: hi } }
`;
const RECALL = `name: recall
version: 1.0.0
capabilities: [memory:read]
policies: [tenant.member]
inputs: { type: object, required: [topic], properties: { topic: { type: string } } }
steps:
  - { id: recall, kind: memoryRecall, query: "{{inputs.topic}}", k: 5 }
  - { id: use, kind: toolCall, tool: soma.echo, args: { top: "{{steps.recall.output.items.0.text}}", all: "{{steps.recall.output.items}}" } }
outputs: { items: "{{steps.recall.output.items}}", top: "{{steps.use.output.top}}" }
`;

describe('capsule steps gated by policy, memory-recall steps (through the router, embedded engine)', () => {
  let t: TestPlatform;
  let a: Awaited<ReturnType<TestPlatform['createTenant']>>;
  let b: Awaited<ReturnType<TestPlatform['createTenant']>>;
  const events = new InProcessEventBus();
  const audit: EventEnvelope<PolicyDecisionAudit>[] = [];
  let model: OpenAICompatibleChatModel;

  beforeAll(async () => {
    model = OpenAICompatibleChatModel.fromUrl(llm.baseUrl, llm.apiKey);
    const subscription = events.subscribe(AUDIT_TOPIC);
    await subscription.ready;
    void (async () => {
      for await (const e of subscription) audit.push(e as EventEnvelope<PolicyDecisionAudit>);
    })();
    t = await startTestPlatform({ events, capsuleModel: { model, defaultModel: llm.model } });
    a = await t.createTenant('capspol-a');
    b = await t.createTenant('capspol-b');
  }, 180_000);
  afterAll(async () => {
    await t?.[Symbol.asyncDispose]();
    await model?.[Symbol.asyncDispose]();
    await events[Symbol.asyncDispose]();
  });

  const runToEnd = async (name: string, token: string, inputs: Record<string, unknown> = {}) => {
    const started = await t.gql(START, { i: { name, inputs } }, token);
    expect(started.errors).toBeUndefined();
    const id = started.data.startCapsuleRun.id as string;
    const live = await collect(t.wsClient(token), id);
    const run = await t.gql(RUN, { id }, token);
    return { id, live, run: run.data.capsuleRun };
  };

  it('refuses a definition naming an unknown policy, pointing at policies[i]', async () => {
    const r = await t.gql(
      CREATE,
      {
        s: `name: typo\nversion: 1.0.0\npolicies: [tenant.member, tenant.owners]\nsteps:\n  - { id: a, kind: toolCall, tool: soma.echo }\n`,
      },
      a.adminToken,
    );
    expect(r.code).toBe('BAD_USER_INPUT');
    expect(r.errors![0]!.message).toContain('policies[1]: no policy named "tenant.owners"');
    expect(r.errors![0]!.extensions).toMatchObject({
      reason: 'UNKNOWN_POLICY',
      problems: [{ path: '/policies/1', line: 3, column: 27 }],
    });
  });

  it('a forbidden tool fails its step with the policy reason (event, step, run); nothing after it runs', async () => {
    expect((await t.gql(CREATE, { s: FORBIDDEN_TOOL }, a.adminToken)).errors).toBeUndefined();
    const { live, run } = await runToEnd('cleanup', a.adminToken);
    const expected = `step "t1" denied by policy constitution.tool: tool "shell.exec" is forbidden by the tenant's constitution`;
    expect(live.map((e) => `${e.type}:${e.stepKey ?? ''}`)).toEqual([
      'STEP_STARTED:t1',
      'STEP_FAILED:t1',
      'RUN_FAILED:',
    ]);
    expect(live[1]!.payload).toMatchObject({
      error: expected,
      reason: 'POLICY_DENIED',
      policy: 'constitution.tool',
    });
    expect(live[2]!.payload).toEqual({ error: expected });
    expect(run).toMatchObject({ status: 'FAILED', error: expected });
    expect(run.steps).toEqual([
      {
        key: 't1',
        kind: 'toolCall',
        status: 'FAILED',
        attempts: 1,
        detail: {
          reason: 'POLICY_DENIED',
          policy: 'constitution.tool',
          reasons: [`tool "shell.exec" is forbidden by the tenant's constitution`],
        },
        output: null,
        error: expected,
      },
    ]);
    // The router's decider audited the step's decision, as the tenant admin who started the run.
    expect(
      audit.some(
        (e) =>
          e.payload.policy === 'constitution.tool' &&
          e.payload.result === 'deny' &&
          e.payload.subject === a.adminId &&
          e.tenantId === a.tenantId,
      ),
    ).toBe(true);
  });

  it('a model call above the constitution limit is denied before the model is asked', async () => {
    expect((await t.gql(CREATE, { s: BIG_MODEL }, a.adminToken)).errors).toBeUndefined();
    const { live, run } = await runToEnd('essay', a.adminToken);
    expect(live.map((e) => e.type)).toEqual(['STEP_STARTED', 'STEP_FAILED', 'RUN_FAILED']);
    expect(run.error).toBe(
      `step "draft" denied by policy constitution.model: 10000 tokens per request exceed the tenant's limit of 4096`,
    );
    expect(run.steps[0]).toMatchObject({ status: 'FAILED', attempts: 1, output: null });
  });

  it('a capsule naming platform.admin fails its first step for a tenant admin (not a platform admin)', async () => {
    expect((await t.gql(CREATE, { s: ADMINS_ONLY }, a.adminToken)).errors).toBeUndefined();
    const { run } = await runToEnd('admins-only', a.adminToken);
    expect(run).toMatchObject({
      status: 'FAILED',
      error: 'step "first" denied by policy platform.admin: platform administrators only',
    });
  });

  it("memoryRecall returns the starter's tenant's items (id, text, score, scope), used by later steps; never another tenant's", async () => {
    const remember = 'mutation($i: RememberInput!) { remember(input: $i) { id } }';
    const own = await t.gql(
      remember,
      { i: { text: 'The launch codename is marmalade sunrise.' } },
      a.adminToken,
    );
    const shared = await t.gql(
      remember,
      { i: { text: 'Team note: marmalade is the tenant-wide launch theme.', scope: { kind: 'TENANT' } } },
      a.adminToken,
    );
    const foreign = await t.gql(
      remember,
      { i: { text: 'Other tenant: marmalade recipe with oranges.', scope: { kind: 'TENANT' } } },
      b.adminToken,
    );
    for (const r of [own, shared, foreign]) expect(r.errors).toBeUndefined();

    expect((await t.gql(CREATE, { s: RECALL }, a.adminToken)).errors).toBeUndefined();
    const { run } = await runToEnd('recall', a.adminToken, { topic: 'marmalade launch' });
    expect(run.error).toBeNull();
    expect(run.status).toBe('COMPLETED');
    const items = run.output.items as { id: string; text: string; score: number; scope: unknown }[];
    const ids = items.map((i) => i.id);
    expect(ids).toEqual(expect.arrayContaining([own.data.remember.id, shared.data.remember.id]));
    expect(ids).not.toContain(foreign.data.remember.id);
    expect(items.find((i) => i.id === own.data.remember.id)).toMatchObject({
      text: 'The launch codename is marmalade sunrise.',
      scope: { kind: 'USER', id: a.adminId },
      score: expect.any(Number),
    });
    expect(items.find((i) => i.id === shared.data.remember.id)).toMatchObject({
      scope: { kind: 'TENANT', id: null },
    });
    // A later step received the recalled text through a template.
    expect(run.output.top).toBe(items[0]!.text);
    const recallStep = run.steps.find((s: { key: string }) => s.key === 'recall');
    expect(recallStep).toMatchObject({ kind: 'memoryRecall', status: 'COMPLETED' });
    expect(recallStep.output.items).toEqual(items);

    // The other tenant, same capsule: only its own item.
    expect((await t.gql(CREATE, { s: RECALL }, b.adminToken)).errors).toBeUndefined();
    const other = await runToEnd('recall', b.adminToken, { topic: 'marmalade launch' });
    expect(other.run.status).toBe('COMPLETED');
    expect(other.run.output.items.map((i: { id: string }) => i.id)).toEqual([foreign.data.remember.id]);
  });
});
