import { InProcessEventBus } from '@somaagent/events';
import { OpenAICompatibleChatModel } from '@somaagent/models';
import {
  AUDIT_TOPIC,
  OpaServerPolicyEvaluator,
  type PolicyDecisionAudit,
  publishPoliciesToOpa,
  readCompiledManifest,
} from '@somaagent/policy';
import type { EventEnvelope } from '@somaagent/ports';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ADMIN_PASSWORD, startTestPlatform, type TestPlatform } from '../support/platform';

/**
 * The platform's own subgraphs carry @policy / @requiresCapability; the router enforces them with
 * the embedded wasm evaluator and, in distributed mode, with the harness's real OPA server.
 */
const opa = inject('opa');
const llm = inject('llm');

const CREATE_PERSONA =
  'mutation($i: CreatePersonaInput!) { createPersona(input: $i) { id model maxTokens } }';
const persona = (maxTokens: number) => ({
  i: { name: 'p', model: 'soma-tiny', systemPrompt: 'be brief', maxTokens },
});

async function memberToken(t: TestPlatform, slug: string, adminToken: string): Promise<string> {
  const email = `member@${slug}.test`;
  const created = await t.gql(
    'mutation($i: CreateUserInput!) { createUser(input: $i) { id } }',
    { i: { email, displayName: 'Member', password: ADMIN_PASSWORD } },
    adminToken,
  );
  if (created.errors) throw new Error(JSON.stringify(created.errors));
  const signed = await t.gql('mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }', {
    i: { tenantSlug: slug, email, password: ADMIN_PASSWORD },
  });
  return signed.data.signIn.accessToken as string;
}

const modes = [
  { name: 'embedded (wasm in-process)', policy: () => Promise.resolve('embedded' as const) },
  {
    name: 'distributed (OPA server)',
    policy: async () => {
      await publishPoliciesToOpa(opa.url);
      return new OpaServerPolicyEvaluator({ url: opa.url });
    },
  },
];

for (const mode of modes) {
  describe(`policy through the router: ${mode.name}`, () => {
    let t: TestPlatform;
    let admin: Awaited<ReturnType<TestPlatform['createTenant']>>;
    let member: string;
    const events = new InProcessEventBus();
    const audit: EventEnvelope[] = [];

    beforeAll(async () => {
      t = await startTestPlatform({
        events,
        policy: await mode.policy(),
        // Distributed mode reaches the subgraphs over signed HTTP and graphql-ws; embedded in-process.
        subgraphTransport: mode.name.startsWith('embedded') ? 'in-process' : 'http',
        // Personas need a configured provider; no answer is generated in this file.
        models: { OPENAI_COMPATIBLE: OpenAICompatibleChatModel.fromUrl(llm.baseUrl, llm.apiKey) },
      });
      const slug = `pol-${mode.name.startsWith('embedded') ? 'emb' : 'opa'}`;
      admin = await t.createTenant(slug);
      member = await memberToken(t, slug, admin.adminToken);
      (async () => {
        for await (const e of events.subscribe(AUDIT_TOPIC)) audit.push(e);
      })();
    });
    afterAll(async () => {
      await t?.[Symbol.asyncDispose]();
    });

    it('partial results: the allowed fields are served, the denied one is FORBIDDEN by the router', async () => {
      // An API key that may read users but not the tenant.
      const key = await t.gql(
        'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }',
        { i: { name: 'users-only', capabilities: ['identity:users:read'] } },
        admin.adminToken,
      );
      const exchanged = await t.gql('mutation($s: String!) { exchangeApiKey(secret: $s) { accessToken } }', {
        s: key.data.createApiKey.secret,
      });
      const token = exchanged.data.exchangeApiKey.accessToken as string;
      const r = await t.gql('{ viewer { subject } users { totalCount } tenant { slug } }', {}, token);
      expect(r.status).toBe(200);
      expect(r.data.viewer.subject).toBeTruthy();
      expect(r.data.users.totalCount).toBe(2);
      expect(r.data.tenant).toBeNull();
      expect(r.errors).toHaveLength(1);
      expect(r.errors?.[0]).toMatchObject({
        path: ['tenant'],
        message:
          'denied by policy "capability": missing capability "identity:tenant:read": ask a tenant admin to grant it',
        extensions: { code: 'FORBIDDEN', policy: 'capability' },
      });
    });

    it('a member lacking sessions:read is refused by the router with the Rego reason', async () => {
      const r = await t.gql('{ sessions { totalCount } }', {}, member);
      expect([r.status, r.code]).toEqual([403, 'FORBIDDEN']);
      expect(r.errors?.[0]?.extensions?.reasons).toEqual([
        'missing capability "sessions:read": ask a tenant admin to grant it',
      ]);
    });

    it("the tenant's constitution is enforced on arguments before the subgraph sees them", async () => {
      const tooMany = await t.gql(CREATE_PERSONA, persona(5000), admin.adminToken);
      expect(tooMany.code).toBe('FORBIDDEN');
      expect(tooMany.errors?.[0]?.extensions?.reasons).toEqual([
        "5000 tokens per request exceed the tenant's limit of 4096",
      ]);
      const ok = await t.gql(CREATE_PERSONA, persona(256), admin.adminToken);
      expect(ok.errors).toBeUndefined();
      expect(ok.data.createPersona.maxTokens).toBe(256);
    });

    it('anonymous callers of protected fields are told to sign in', async () => {
      const r = await t.gql('{ users { totalCount } }');
      expect([r.status, r.code]).toEqual([401, 'UNAUTHENTICATED']);
    });

    it('a list costs one decision per distinct question, not one per item', async () => {
      const before = t.platform.policy.evaluations;
      const r = await t.gql(
        '{ users(first: 100) { edges { node { id email roles { name } } } } }',
        {},
        member,
      );
      expect(r.errors).toBeUndefined();
      // the operation + Query.users; nested fields carry no directive
      expect(t.platform.policy.evaluations - before).toBe(2);
    });

    it('admins list the policies in force and their versions through the graph', async () => {
      const r = await t.gql('{ policies { engine revision modules { id sha256 } } }', {}, admin.adminToken);
      expect(r.errors).toBeUndefined();
      expect(r.data.policies.engine).toBe(mode.name.startsWith('embedded') ? 'WASM' : 'OPA_SERVER');
      expect(r.data.policies.revision).toBe(readCompiledManifest().revision);
      const authz = readCompiledManifest().sources.find((m) => m.id === 'somaagent/authz/authz.rego');
      expect(r.data.policies.modules).toContainEqual(authz);
      const denied = await t.gql('{ policies { revision } }', {}, member);
      expect(denied.code).toBe('FORBIDDEN');
    });

    it('admins dry-run a decision: why was this denied?', async () => {
      const EXPLAIN =
        'query($i: ExplainPolicyInput!) { explainPolicyDecision(input: $i) { allow policy reasons inputDigest inputJson } }';
      const why = await t.gql(
        EXPLAIN,
        {
          i: {
            policy: 'capability',
            subject: { subject: 'someone', capabilities: ['identity:users:read'] },
            required: ['sessions:read'],
          },
        },
        admin.adminToken,
      );
      expect(why.errors).toBeUndefined();
      expect(why.data.explainPolicyDecision).toMatchObject({
        allow: false,
        policy: 'capability',
        reasons: ['missing capability "sessions:read": ask a tenant admin to grant it'],
      });
      expect(why.data.explainPolicyDecision.inputDigest).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.parse(why.data.explainPolicyDecision.inputJson).subject.tenantId).toBe(admin.tenantId);

      const tool = await t.gql(
        EXPLAIN,
        {
          i: {
            policy: 'constitution.tool',
            subject: { subject: 's', capabilities: [] },
            toolName: 'shell.exec',
          },
        },
        admin.adminToken,
      );
      expect(tool.data.explainPolicyDecision.reasons).toEqual([
        'tool "shell.exec" is forbidden by the tenant\'s constitution',
      ]);

      const otherTenant = await t.gql(
        EXPLAIN,
        { i: { policy: 'public', subject: { subject: 's', tenantId: 'another', capabilities: [] } } },
        admin.adminToken,
      );
      expect(otherTenant.code).toBe('FORBIDDEN');
      const badJson = await t.gql(
        EXPLAIN,
        { i: { policy: 'public', argumentsJson: '{nope' } },
        admin.adminToken,
      );
      expect(badJson.code).toBe('BAD_USER_INPUT');
      expect((await t.gql(EXPLAIN, { i: { policy: 'public' } }, member)).code).toBe('FORBIDDEN');
    });

    it('decisions are audited on agent.audit', async () => {
      const before = audit.length;
      await t.gql('{ sessions { totalCount } }', {}, member);
      await new Promise((r) => setTimeout(r, 50));
      const payloads = audit.slice(before).map((e) => e.payload as PolicyDecisionAudit);
      expect(payloads.find((p) => p.policy === 'capability')).toMatchObject({
        result: 'deny',
        fieldPath: 'sessions',
        engine: mode.name.startsWith('embedded') ? 'wasm' : 'opa-server',
      });
      expect(audit.at(-1)?.tenantId).toBe(admin.tenantId);
    });
  });
}
