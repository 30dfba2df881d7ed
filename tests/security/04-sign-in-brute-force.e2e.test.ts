import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { InProcessEventBus } from '@somaagent/events';
import { IDENTITY_EVENTS_TOPIC } from '@somaagent/identity';
import type { EventEnvelope } from '@somaagent/ports';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ADMIN_PASSWORD, startTestPlatform, type TestPlatform } from '../support/platform';

/**
 * Issue 14 item 4, sign-in brute force: failed sign-ins back off exponentially and then lock out,
 * per account and per client IP; the answers (and their timing) are the same whether the tenant,
 * the email or only the password was wrong; a correct password after the lockout expired signs
 * in; the identity events record failures and lockouts. Requests go through the router over real
 * HTTP, from different loopback source addresses (127.0.0.x) where the per-IP counter matters.
 */
const SIGN_IN = 'mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }';

interface Answer {
  status: number;
  code: string | undefined;
  message: string | undefined;
  retryAfter: unknown;
  ms: number;
}

/** One sign-in from the given local address (the router sees it as the client IP). */
function signIn(url: string, input: Record<string, string>, from = '127.0.0.1'): Promise<Answer> {
  const body = JSON.stringify({ query: SIGN_IN, variables: { i: input } });
  const started = performance.now();
  return new Promise((done, fail) => {
    const req = request(
      url,
      {
        method: 'POST',
        localAddress: from,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          const json = JSON.parse(text) as {
            errors?: { message: string; extensions?: Record<string, unknown> }[];
          };
          const error = json.errors?.[0];
          done({
            status: res.statusCode ?? 0,
            code: error?.extensions?.code as string | undefined,
            message: error?.message,
            retryAfter: error?.extensions?.retryAfter,
            ms: performance.now() - started,
          });
        });
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

describe('item 4 with the platform defaults (router + every subgraph, in-process transport)', () => {
  let t: TestPlatform;
  let slug: string;
  let email: string;
  beforeAll(async () => {
    t = await startTestPlatform();
    slug = `bf-${randomBytes(3).toString('hex')}`;
    email = (await t.createTenant(slug)).adminEmail;
  }, 120_000);
  afterAll(async () => {
    await t?.[Symbol.asyncDispose]();
  });

  it('the same error for a wrong tenant, a wrong email and a wrong password', async () => {
    const answers = await Promise.all([
      signIn(
        t.platform.url,
        { tenantSlug: 'no-such-tenant', email, password: 'wrong password!' },
        '127.0.0.20',
      ),
      signIn(
        t.platform.url,
        { tenantSlug: slug, email: 'nobody@x.test', password: 'wrong password!' },
        '127.0.0.20',
      ),
      signIn(t.platform.url, { tenantSlug: slug, email, password: 'wrong password!' }, '127.0.0.20'),
    ]);
    for (const a of answers)
      expect([a.status, a.code, a.message]).toEqual([
        answers[0]!.status,
        'UNAUTHENTICATED',
        answers[0]!.message,
      ]);
  });

  it('after 3 free failures an account backs off (RATE_LIMITED, retryAfter), existing or not', async () => {
    // A success clears the failure the previous test left on this account.
    expect(
      (await signIn(t.platform.url, { tenantSlug: slug, email, password: ADMIN_PASSWORD })).code,
    ).toBeUndefined();
    for (const target of [email, `ghost-${randomBytes(3).toString('hex')}@x.test`]) {
      const input = { tenantSlug: slug, email: target, password: 'not the password' };
      for (let i = 0; i < 4; i++)
        expect((await signIn(t.platform.url, input, '127.0.0.21')).code).toBe('UNAUTHENTICATED');
      const blocked = await signIn(t.platform.url, input, '127.0.0.21');
      expect([blocked.code, blocked.retryAfter]).toEqual(['RATE_LIMITED', 1]);
      // Even the right password waits out the back-off.
      const right = await signIn(t.platform.url, { ...input, password: ADMIN_PASSWORD }, '127.0.0.21');
      expect(right.code).toBe('RATE_LIMITED');
    }
    // Back-off over: the right password signs in.
    await sleep(1_100);
    const ok = await signIn(
      t.platform.url,
      { tenantSlug: slug, email, password: ADMIN_PASSWORD },
      '127.0.0.21',
    );
    expect(ok.code).toBeUndefined();
  });

  it('the client IP reaches identity: 21 failures from one address back it off; another address is unaffected', async () => {
    for (let i = 0; i < 21; i++) {
      const a = await signIn(
        t.platform.url,
        { tenantSlug: slug, email: `spray-${i}@x.test`, password: 'guess guess' },
        '127.0.0.22',
      );
      expect(a.code).toBe('UNAUTHENTICATED');
    }
    const sprayed = await signIn(
      t.platform.url,
      { tenantSlug: slug, email: 'fresh@x.test', password: 'guess guess' },
      '127.0.0.22',
    );
    expect(sprayed.code).toBe('RATE_LIMITED');
    const other = await signIn(
      t.platform.url,
      { tenantSlug: slug, email: 'fresh@x.test', password: 'guess guess' },
      '127.0.0.23',
    );
    expect(other.code).toBe('UNAUTHENTICATED');
  });

  it('over graphql-ws too: the socket address is the client IP', async () => {
    const admin = (await t.gql(SIGN_IN, { i: { tenantSlug: slug, email, password: ADMIN_PASSWORD } })).data
      .signIn.accessToken as string;
    class FromAddress extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, { localAddress: '127.0.0.25' });
      }
    }
    const client = createClient({
      url: t.platform.wsUrl,
      webSocketImpl: FromAddress,
      connectionParams: { authorization: `Bearer ${admin}` },
      retryAttempts: 0,
    });
    const codeOf = async (i: number) => {
      for await (const result of client.iterate({
        query: SIGN_IN,
        variables: { i: { tenantSlug: slug, email: `ws-${i}@x.test`, password: 'guess guess' } },
      })) {
        return result.errors?.[0]?.extensions?.code;
      }
      return undefined;
    };
    try {
      for (let i = 0; i < 21; i++) expect(await codeOf(i)).toBe('UNAUTHENTICATED');
      expect(await codeOf(99)).toBe('RATE_LIMITED');
    } finally {
      await client.dispose();
    }
  });

  it('timing does not tell whether the tenant or the email exists', async () => {
    // Each kind from its own address and at most 3 tries per account, so no throttle interferes.
    const users: string[] = [];
    const admin = (await t.gql(SIGN_IN, { i: { tenantSlug: slug, email, password: ADMIN_PASSWORD } })).data
      .signIn.accessToken;
    for (let i = 0; i < 5; i++) {
      const r = await t.gql(
        'mutation($i: CreateUserInput!) { createUser(input: $i) { email } }',
        { i: { email: `timing-${i}@x.test`, displayName: 'T', password: 'a long enough password' } },
        admin,
      );
      users.push(r.data.createUser.email);
    }
    const times = { tenant: [] as number[], email: [] as number[], password: [] as number[] };
    for (let round = 0; round < 15; round++) {
      const user = users[round % users.length]!;
      const nonce = `${round}-${randomBytes(2).toString('hex')}`;
      const runs: [keyof typeof times, Record<string, string>, string][] = [
        ['tenant', { tenantSlug: `missing-${nonce}`, email: user, password: 'wrong password' }, '127.0.0.31'],
        [
          'email',
          { tenantSlug: slug, email: `missing-${nonce}@x.test`, password: 'wrong password' },
          '127.0.0.32',
        ],
        ['password', { tenantSlug: slug, email: user, password: `wrong-${nonce}` }, '127.0.0.33'],
      ];
      for (const [kind, input, from] of runs) {
        const a = await signIn(t.platform.url, input, from);
        expect(a.code).toBe('UNAUTHENTICATED');
        times[kind].push(a.ms);
      }
    }
    const m = { tenant: median(times.tenant), email: median(times.email), password: median(times.password) };
    const spread = Math.max(m.tenant, m.email, m.password) - Math.min(m.tenant, m.email, m.password);
    console.log(`sign-in failure medians (ms): ${JSON.stringify(m)}, spread ${spread.toFixed(1)} ms`);
    // One scrypt check dominates every kind; the queries differ by a fraction of it.
    expect(spread).toBeLessThan(Math.max(15, 0.25 * Math.min(m.tenant, m.email, m.password)));
  }, 120_000);
});

describe('item 4 lockout, expiry and audit (the whole platform, short settings)', () => {
  let platform: TestPlatform;
  let router: { url: string };
  const events = new InProcessEventBus();
  const seen: EventEnvelope[] = [];
  const abort = new AbortController();
  let tenantSlug: string;
  let adminEmail: string;

  beforeAll(async () => {
    platform = await startTestPlatform({
      events,
      signInThrottle: {
        accountFreeFailures: 2,
        accountLockoutFailures: 4,
        baseDelayMs: 300,
        maxDelayMs: 300,
        lockoutMs: 2_000,
        ipFreeFailures: 1_000,
        ipLockoutFailures: 2_000,
      },
    });
    router = { url: platform.platform.url };
    tenantSlug = `lock-${randomBytes(3).toString('hex')}`;
    ({ adminEmail } = await platform.createTenant(tenantSlug));
    (async () => {
      for await (const e of events.subscribe(IDENTITY_EVENTS_TOPIC, abort.signal)) seen.push(e);
    })().catch(() => undefined);
  }, 120_000);
  afterAll(async () => {
    abort.abort();
    await platform?.[Symbol.asyncDispose]();
  });

  it('backs off exponentially, locks out, refuses the right password while locked, and signs in after expiry', async () => {
    const wrong = { tenantSlug, email: adminEmail, password: 'wrong password' };
    const right = { ...wrong, password: ADMIN_PASSWORD };
    const from = '127.0.0.41';
    expect((await signIn(router.url, wrong, from)).code).toBe('UNAUTHENTICATED');
    expect((await signIn(router.url, wrong, from)).code).toBe('UNAUTHENTICATED');
    expect((await signIn(router.url, wrong, from)).code).toBe('UNAUTHENTICATED'); // 3rd: back-off starts
    expect((await signIn(router.url, right, from)).code).toBe('RATE_LIMITED');
    await sleep(350);
    expect((await signIn(router.url, wrong, from)).code).toBe('UNAUTHENTICATED'); // 4th: lockout
    const locked = await signIn(router.url, right, from);
    expect([locked.code, locked.retryAfter]).toEqual(['RATE_LIMITED', 2]);
    expect(locked.message).toMatch(/too many failed sign-ins; retry in 2 s/);
    // A lockout is not a back-off: still refused after the back-off would have ended.
    await sleep(600);
    expect((await signIn(router.url, right, '127.0.0.42')).code).toBe('RATE_LIMITED');
    await sleep(1_500);
    const ok = await signIn(router.url, right, from);
    expect(ok.code).toBeUndefined();
    expect(ok.status).toBe(200);
    // The success cleared the account's counter: one more failure is a plain one.
    expect((await signIn(router.url, wrong, from)).code).toBe('UNAUTHENTICATED');
    expect((await signIn(router.url, right, from)).code).toBeUndefined();

    await sleep(100);
    const types = seen.map((e) => e.type);
    expect(types.filter((x) => x === 'SIGN_IN_FAILED')).toHaveLength(5);
    expect(types.filter((x) => x === 'SIGN_IN_LOCKED_OUT')).toHaveLength(1);
    expect(types.filter((x) => x === 'SIGNED_IN')).toHaveLength(2);
    const lockout = seen.find((e) => e.type === 'SIGN_IN_LOCKED_OUT')!;
    expect(lockout.payload).toMatchObject({ actorId: 'anonymous', clientIp: from, lockedOut: 'account' });
    const failure = seen.find((e) => e.type === 'SIGN_IN_FAILED')!;
    expect(failure.payload).toMatchObject({ clientIp: from, accountFailures: 1 });
    expect(JSON.stringify(seen)).not.toContain('wrong password');
  });

  it('a lockout of one account leaves other accounts and addresses alone', async () => {
    const r = await signIn(
      router.url,
      { tenantSlug, email: 'other@lockout.test', password: 'whatever it is' },
      '127.0.0.41',
    );
    expect(r.code).toBe('UNAUTHENTICATED');
  });
});
