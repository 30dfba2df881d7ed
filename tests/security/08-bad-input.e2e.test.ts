import { randomUUID } from 'node:crypto';
import { format } from 'node:util';
import { OpenAICompatibleChatModel } from '@somaagent/models';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_PASSWORD,
  type GraphQLResult,
  startTestPlatform,
  type TestPlatform,
} from '../support/platform';

/**
 * Issue 14 item 8, bad input never becomes a 5xx, a wrong code or a leak. Through the router of
 * the running platform (introspection off, as in production):
 * - every mutation that takes strings, sent control characters, NUL, lone surrogates and
 *   over-long values, answers 400 BAD_USER_INPUT;
 * - error messages never echo more than a short prefix of what was sent;
 * - the server's log lines carry none of the passwords, message text or tokens sent;
 * - "Did you mean" suggestions (fields, input fields, enum values, in documents and variables) are hidden;
 * - every by-id query, mutation and subscription answers another tenant's id exactly as a random one.
 */
const baseUrl = process.env.SOMA_LLM_BASE_URL;
const model = process.env.SOMA_LLM_MODEL;
if (!baseUrl || !model)
  throw new Error('the test harness did not provide the llm engine (SOMA_LLM_BASE_URL)');

/** Unique markers: none may appear in any log line the platform writes. */
const SECRET_PASSWORD = `pw-${randomUUID()}-secret`;
const SECRET_TEXT = `text-${randomUUID()}-private`;

const BAD: Record<string, string> = {
  NUL: `a\u0000b ${SECRET_TEXT}`,
  BEL: `a\u0007b ${SECRET_TEXT}`,
  ESC: `\u001b[31m ${SECRET_TEXT}`,
  DEL: `a\u007fb ${SECRET_TEXT}`,
  C1: `a\u0085b ${SECRET_TEXT}`,
  'lone high surrogate': `a\ud800b ${SECRET_TEXT}`,
  'lone low surrogate': `a\udc00b ${SECRET_TEXT}`,
};
const LONG = `${SECRET_TEXT}${'x'.repeat(600_000)}`;

const APPROVAL = `name: gate
version: 1.0.0
steps:
  - { id: review, kind: approval, prompt: "ok?" }
`;

interface Case {
  name: string;
  query: string;
  vars: (value: string) => Record<string, unknown>;
  token: () => Promise<string> | string;
}

describe('08 bad input never becomes a 5xx, a wrong code or a leak', () => {
  let t: TestPlatform;
  let a: Awaited<ReturnType<TestPlatform['createTenant']>>;
  let b: Awaited<ReturnType<TestPlatform['createTenant']>>;
  const logged: string[] = [];
  const restore: (() => void)[] = [];
  /** Resources of tenant A (for valid surroundings) and tenant B (for the cross-tenant probes). */
  const ids: Record<'a' | 'b', Record<string, string>> = { a: {}, b: {} };

  const ok = (r: GraphQLResult, what: string) => {
    if (r.errors) throw new Error(`${what}: ${JSON.stringify(r.errors)}`);
    return r.data;
  };

  async function seed(side: 'a' | 'b', tenant: typeof a) {
    const tk = tenant.adminToken;
    const user = ok(
      await t.gql(
        'mutation($i: CreateUserInput!) { createUser(input: $i) { id } }',
        { i: { email: `u@${side}.test`, displayName: 'U', password: ADMIN_PASSWORD } },
        tk,
      ),
      'createUser',
    );
    ids[side].user = user.createUser.id;
    const key = ok(
      await t.gql(
        'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { id } } }',
        { i: { name: 'k', capabilities: ['sessions:read'] } },
        tk,
      ),
      'createApiKey',
    );
    ids[side].apiKey = key.createApiKey.apiKey.id;
    const doc = ok(
      await t.gql(
        'mutation($i: IngestDocumentInput!) { ingestDocument(input: $i) { id } }',
        { i: { title: 'd', text: 'A short document about tenancy.' } },
        tk,
      ),
      'ingestDocument',
    );
    ids[side].document = doc.ingestDocument.id;
    const item = ok(
      await t.gql(
        'mutation($i: RememberInput!) { remember(input: $i) { id } }',
        { i: { text: 'a fact' } },
        tk,
      ),
      'remember',
    );
    ids[side].memory = item.remember.id;
    const persona = ok(
      await t.gql(
        'mutation($i: CreatePersonaInput!) { createPersona(input: $i) { id } }',
        { i: { name: 'p', model, systemPrompt: 'Test persona.', maxTokens: 4 } },
        tk,
      ),
      'createPersona',
    );
    ids[side].persona = persona.createPersona.id;
    const session = ok(
      await t.gql(
        'mutation($i: StartSessionInput!) { startSession(input: $i) { id } }',
        { i: { personaId: ids[side].persona } },
        tk,
      ),
      'startSession',
    );
    ids[side].session = session.startSession.id;
    ok(
      await t.gql('mutation($s: String!) { createCapsule(source: $s) { id } }', { s: APPROVAL }, tk),
      'capsule',
    );
    const run = ok(
      await t.gql(
        'mutation($i: StartCapsuleRunInput!) { startCapsuleRun(input: $i) { id } }',
        { i: { name: 'gate', inputs: {} } },
        tk,
      ),
      'startCapsuleRun',
    );
    ids[side].run = run.startCapsuleRun.id;
  }

  beforeAll(async () => {
    // The platform runs in this process: every line it logs passes through these (rendered as
    // Node renders them, error objects with all their properties), and is still logged.
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      const original = console[method];
      console[method] = (...args: unknown[]) => {
        logged.push(format(...args));
        original.apply(console, args);
      };
      restore.push(() => {
        console[method] = original;
      });
    }
    for (const stream of [process.stdout, process.stderr]) {
      const write = stream.write.bind(stream);
      stream.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
        logged.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
        return write(chunk, ...rest);
      }) as typeof stream.write;
      restore.push(() => {
        stream.write = write;
      });
    }
    t = await startTestPlatform({
      introspection: false,
      models: { OPENAI_COMPATIBLE: OpenAICompatibleChatModel.fromUrl(baseUrl, 'not-needed') },
    });
    a = await t.createTenant('bad-input-a');
    b = await t.createTenant('bad-input-b');
    await seed('a', a);
    await seed('b', b);
  }, 240_000);
  afterAll(async () => {
    await t?.[Symbol.asyncDispose]();
    for (const r of restore) r();
  });

  const admin = () => a.adminToken;
  const cases: Case[] = [
    {
      name: 'createTenant',
      query: 'mutation($i: CreateTenantInput!) { createTenant(input: $i) { tenant { id } } }',
      vars: (v) => ({
        i: {
          slug: 'bad-tenant',
          name: v,
          adminEmail: 'x@y.test',
          adminPassword: SECRET_PASSWORD,
          adminDisplayName: 'X',
        },
      }),
      token: () => t.platformToken(),
    },
    {
      name: 'signIn (email)',
      query: 'mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }',
      vars: (v) => ({ i: { tenantSlug: 'bad-input-a', email: v, password: SECRET_PASSWORD } }),
      token: () => '',
    },
    {
      name: 'signIn (password)',
      query: 'mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }',
      vars: (v) => ({ i: { tenantSlug: 'bad-input-a', email: a.adminEmail, password: v } }),
      token: () => '',
    },
    {
      name: 'exchangeApiKey',
      query: 'mutation($s: String!) { exchangeApiKey(secret: $s) { accessToken } }',
      vars: (v) => ({ s: v }),
      token: () => '',
    },
    {
      name: 'createUser',
      query: 'mutation($i: CreateUserInput!) { createUser(input: $i) { id } }',
      vars: (v) => ({ i: { email: `${randomUUID()}@a.test`, displayName: v, password: SECRET_PASSWORD } }),
      token: admin,
    },
    {
      name: 'createRole',
      query: 'mutation($i: CreateRoleInput!) { createRole(input: $i) { id } }',
      vars: (v) => ({ i: { name: 'auditor', capabilities: [v] } }),
      token: admin,
    },
    {
      name: 'createApiKey',
      query: 'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }',
      vars: (v) => ({ i: { name: v, capabilities: ['sessions:read'] } }),
      token: admin,
    },
    {
      name: 'assignRole',
      query: 'mutation($u: ID!, $r: String!) { assignRole(userId: $u, roleName: $r) { id } }',
      vars: (v) => ({ u: ids.a.user, r: v }),
      token: admin,
    },
    {
      name: 'remember',
      query: 'mutation($i: RememberInput!) { remember(input: $i) { id } }',
      vars: (v) => ({ i: { text: v } }),
      token: admin,
    },
    {
      name: 'remember (metadata JSON)',
      query: 'mutation($i: RememberInput!) { remember(input: $i) { id } }',
      vars: (v) => ({ i: { text: 'fine', metadata: { note: v } } }),
      token: admin,
    },
    {
      name: 'ingestDocument',
      query: 'mutation($i: IngestDocumentInput!) { ingestDocument(input: $i) { id } }',
      vars: (v) => ({ i: { title: v, text: 'fine text' } }),
      token: admin,
    },
    {
      name: 'recall',
      query: 'query($i: RecallInput!) { recall(input: $i) { score } }',
      vars: (v) => ({ i: { query: v } }),
      token: admin,
    },
    {
      name: 'createPersona',
      query: 'mutation($i: CreatePersonaInput!) { createPersona(input: $i) { id } }',
      vars: (v) => ({ i: { name: `p-${randomUUID()}`, model, systemPrompt: v } }),
      token: admin,
    },
    {
      name: 'createPersona (model)',
      query: 'mutation($i: CreatePersonaInput!) { createPersona(input: $i) { id } }',
      vars: (v) => ({ i: { name: `p-${randomUUID()}`, model: v, systemPrompt: 'fine' } }),
      token: admin,
    },
    {
      name: 'startSession',
      query: 'mutation($i: StartSessionInput!) { startSession(input: $i) { id } }',
      vars: (v) => ({ i: { personaId: ids.a.persona, title: v } }),
      token: admin,
    },
    {
      name: 'sendMessage',
      query: 'mutation($i: SendMessageInput!) { sendMessage(input: $i) { userMessage { id } } }',
      vars: (v) => ({ i: { sessionId: ids.a.session, content: v } }),
      token: admin,
    },
    {
      name: 'createCapsule',
      query: 'mutation($s: String!) { createCapsule(source: $s) { id } }',
      vars: (v) => ({ s: `name: odd\nversion: 1.0.0\ndescription: "${v}"\nsteps: []\n` }),
      token: admin,
    },
    {
      name: 'startCapsuleRun',
      query: 'mutation($i: StartCapsuleRunInput!) { startCapsuleRun(input: $i) { id } }',
      vars: (v) => ({ i: { name: v, inputs: {} } }),
      token: admin,
    },
    {
      name: 'approveCapsuleStep',
      query: 'mutation($i: DecideCapsuleStepInput!) { approveCapsuleStep(input: $i) { id } }',
      vars: (v) => ({ i: { runId: ids.a.run, stepKey: 'review', comment: v } }),
      token: admin,
    },
    {
      name: 'rejectCapsuleStep (stepKey)',
      query: 'mutation($i: DecideCapsuleStepInput!) { rejectCapsuleStep(input: $i) { id } }',
      vars: (v) => ({ i: { runId: ids.a.run, stepKey: v } }),
      token: admin,
    },
  ];

  const expectShort = (r: GraphQLResult) => {
    // No message or extension echoes more than a short prefix of what was sent.
    const text = JSON.stringify(r.errors ?? []);
    expect(text.length).toBeLessThan(2_000);
    expect(text).not.toContain(SECRET_TEXT.slice(10));
    expect(text).not.toContain(SECRET_PASSWORD);
  };

  it.each(cases)('$name: control characters, NUL and lone surrogates → 400 BAD_USER_INPUT', async (c) => {
    for (const [kind, value] of Object.entries(BAD)) {
      const r = await t.gql(c.query, c.vars(value), (await c.token()) || undefined);
      expect([kind, r.status, r.code], JSON.stringify(r.errors)).toEqual([kind, 400, 'BAD_USER_INPUT']);
      expectShort(r);
    }
  });

  it.each(cases)('$name: a 600 000-character value → 400 BAD_USER_INPUT with a short message', async (c) => {
    const r = await t.gql(c.query, c.vars(LONG), (await c.token()) || undefined);
    expect([r.status, r.code], JSON.stringify(r.errors).slice(0, 500)).toEqual([400, 'BAD_USER_INPUT']);
    expectShort(r);
  });

  it('inline literals, WebSocket variables and a body over the limit are refused the same way', async () => {
    const inline = await t.gql(
      'mutation { remember(input: { text: "a\\u0000b" }) { id } }',
      {},
      a.adminToken,
    );
    expect([inline.status, inline.code]).toEqual([400, 'BAD_USER_INPUT']);
    const block = await t.gql(
      'mutation { remember(input: { text: """a\u0007b""" }) { id } }',
      {},
      a.adminToken,
    );
    expect([block.status, block.code]).toEqual([400, 'BAD_USER_INPUT']);

    const ws = t.wsClient(a.adminToken);
    const got = await new Promise<unknown>((resolve) => {
      ws.subscribe(
        {
          query: 'subscription($s: ID!) { sessionEvents(sessionId: $s) { sequence } }',
          variables: { s: 'a\u0000b' },
        },
        { next: (v) => resolve(v), error: (e) => resolve(e), complete: () => resolve('complete') },
      );
    });
    expect(JSON.stringify(got)).toContain('BAD_USER_INPUT');

    const huge = await fetch(t.platform.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${a.adminToken}` },
      body: JSON.stringify({
        query: 'mutation($i: RememberInput!) { remember(input: $i) { id } }',
        variables: { i: { text: 'x'.repeat(1_100_000) } },
      }),
    });
    const body = await huge.text();
    expect(huge.status).toBe(413);
    expect(body).toContain('PAYLOAD_TOO_LARGE');
    expect(body.length).toBeLessThan(1_000);
  });

  it('a body that is not valid UTF-8 → 400 BAD_USER_INPUT, and nothing is stored', async () => {
    const before = await t.gql('{ memories(first: 100) { totalCount } }', {}, a.adminToken);
    const json = Buffer.from(
      JSON.stringify({
        query: 'mutation($i: RememberInput!) { remember(input: $i) { id } }',
        variables: { i: { text: 'a__b' } },
      }),
    );
    // A lone continuation byte, an overlong slash and a CESU-8 surrogate where the placeholder was.
    for (const bad of [[0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80]]) {
      const at = json.indexOf('__');
      const body = Buffer.concat([json.subarray(0, at), Buffer.from(bad), json.subarray(at + 2)]);
      const res = await fetch(t.platform.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${a.adminToken}` },
        body,
      });
      const answer = (await res.json()) as { errors: { extensions: { code: string } }[] };
      expect([res.status, answer.errors[0]!.extensions.code]).toEqual([400, 'BAD_USER_INPUT']);
    }
    const after = await t.gql('{ memories(first: 100) { totalCount } }', {}, a.adminToken);
    expect(after.data).toEqual(before.data);
  });

  it('field, input-field and enum-value suggestions are hidden when introspection is off', async () => {
    const probes: [string, Record<string, unknown>][] = [
      ['{ sesions { totalCount } }', {}],
      ['{ sessions(status: ACTIV) { totalCount } }', {}],
      ['query($s: SessionStatus) { sessions(status: $s) { totalCount } }', { s: 'ACTIV' }],
      ['mutation($i: RememberInput!) { remember(input: $i) { id } }', { i: { txt: 'x' } }],
      ['mutation { remember(input: { txt: "x" }) { id } }', {}],
      ['{ session(idd: "x") { id } }', {}],
    ];
    for (const [query, variables] of probes) {
      const r = await t.gql(query, variables, a.adminToken);
      expect(r.status, query).toBe(400);
      const text = JSON.stringify(r.errors);
      expect(text, query).not.toMatch(/Did you mean/);
      expect(text, query).not.toMatch(/"ACTIVE"|"sessions"|"text"|"id"\?/);
    }
  });

  it('another tenant’s id answers exactly like a random one, on every by-id field', async () => {
    const runQ = (field: string) => `query($id: ID!) { ${field}(id: $id) { id } }`;
    const probes: [string, string, (id: string) => Record<string, unknown>, string][] = [
      ['capsuleRun', runQ('capsuleRun'), (id) => ({ id }), ids.b.run!],
      ['user', runQ('user'), (id) => ({ id }), ids.b.user!],
      ['memoryDocument', runQ('memoryDocument'), (id) => ({ id }), ids.b.document!],
      ['session', runQ('session'), (id) => ({ id }), ids.b.session!],
      [
        'cancelCapsuleRun',
        'mutation($id: ID!) { cancelCapsuleRun(id: $id) { id } }',
        (id) => ({ id }),
        ids.b.run!,
      ],
      [
        'approveCapsuleStep',
        'mutation($i: DecideCapsuleStepInput!) { approveCapsuleStep(input: $i) { id } }',
        (id) => ({ i: { runId: id, stepKey: 'review' } }),
        ids.b.run!,
      ],
      [
        'rejectCapsuleStep',
        'mutation($i: DecideCapsuleStepInput!) { rejectCapsuleStep(input: $i) { id } }',
        (id) => ({ i: { runId: id, stepKey: 'review' } }),
        ids.b.run!,
      ],
      [
        'revokeApiKey',
        'mutation($id: ID!) { revokeApiKey(id: $id) { id } }',
        (id) => ({ id }),
        ids.b.apiKey!,
      ],
      [
        'assignRole',
        'mutation($u: ID!) { assignRole(userId: $u, roleName: "admin") { id } }',
        (id) => ({ u: id }),
        ids.b.user!,
      ],
      [
        'deleteMemoryDocument',
        'mutation($id: ID!) { deleteMemoryDocument(id: $id) }',
        (id) => ({ id }),
        ids.b.document!,
      ],
      [
        'forget',
        'mutation($i: ForgetInput!) { forget(input: $i) { deletedCount } }',
        (id) => ({ i: { ids: [id] } }),
        ids.b.memory!,
      ],
      [
        'recall (filter.documentIds)',
        'query($i: RecallInput!) { recall(input: $i) { score } }',
        (id) => ({ i: { query: 'tenancy', filter: { documentIds: [id] } } }),
        ids.b.document!,
      ],
      [
        'startSession',
        'mutation($i: StartSessionInput!) { startSession(input: $i) { id } }',
        (id) => ({ i: { personaId: id } }),
        ids.b.persona!,
      ],
      [
        'sendMessage',
        'mutation($i: SendMessageInput!) { sendMessage(input: $i) { userMessage { id } } }',
        (id) => ({ i: { sessionId: id, content: 'hello' } }),
        ids.b.session!,
      ],
      [
        'cancelGeneration',
        'mutation($s: ID!) { cancelGeneration(sessionId: $s) { id } }',
        (id) => ({ s: id }),
        ids.b.session!,
      ],
      [
        'closeSession',
        'mutation($id: ID!) { closeSession(id: $id) { id } }',
        (id) => ({ id }),
        ids.b.session!,
      ],
    ];
    const normalise = (r: GraphQLResult, id: string) =>
      JSON.stringify({ status: r.status, data: r.data, errors: r.errors }).replaceAll(id, '<id>');
    const report: string[] = [];
    for (const [name, query, vars, theirs] of probes) {
      const random = randomUUID();
      const foreign = await t.gql(query, vars(theirs), a.adminToken);
      const missing = await t.gql(query, vars(random), a.adminToken);
      report.push(
        `${name.padEnd(28)} foreign=${foreign.status}/${foreign.code ?? 'ok'} random=${missing.status}/${missing.code ?? 'ok'}`,
      );
      expect(normalise(foreign, theirs), name).toBe(normalise(missing, random));
      if (missing.errors) expect(missing.code, name).toBe('NOT_FOUND');
    }
    for (const [name, query, theirs] of [
      [
        'capsuleRun (subscription)',
        'subscription($id: ID!) { capsuleRun(runId: $id) { sequence } }',
        ids.b.run!,
      ],
      [
        'sessionEvents (subscription)',
        'subscription($id: ID!) { sessionEvents(sessionId: $id) { sequence } }',
        ids.b.session!,
      ],
    ] as const) {
      const first = (id: string) =>
        new Promise<string>((resolve) => {
          t.wsClient(a.adminToken).subscribe(
            { query, variables: { id } },
            {
              next: (v) => resolve(JSON.stringify(v).replaceAll(id, '<id>')),
              error: (e) => resolve(JSON.stringify(e).replaceAll(id, '<id>')),
              complete: () => resolve('complete'),
            },
          );
        });
      const foreign = await first(theirs);
      const missing = await first(randomUUID());
      report.push(`${name.padEnd(28)} foreign=${foreign.slice(0, 80)}`);
      expect(foreign, name).toBe(missing);
      expect(missing, name).toContain('NOT_FOUND');
    }
    console.log(`cross-tenant probes (A asks for B's ids):\n  ${report.join('\n  ')}`);
  });

  it('the log holds none of the passwords, message text or tokens that were sent', () => {
    const all = logged.join('');
    expect(all).not.toContain(SECRET_PASSWORD);
    expect(all).not.toContain(SECRET_TEXT);
    expect(all).not.toContain(a.adminToken);
    expect(all).not.toContain(ADMIN_PASSWORD);
  });
});
