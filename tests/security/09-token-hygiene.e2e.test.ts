import { oidcClaims } from '@somaagent/router';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type JwksIssuer, nowSeconds, startJwksIssuer } from './support/jwksIssuer';
import { type BoundPlatforms, providerToken, startBoundPlatform } from './support/oidcTokens';

/**
 * Issue 14 item 9, token hygiene at the router: `typ` is checked where the issuer sets it, `exp`
 * is required, a lifetime longer than the issuer's maximum (default 24 h) is refused, and so is
 * an `iat` in the future beyond the clock tolerance (5 s). Tokens are signed with real keys: a
 * JWKS server this test runs (claims a certified provider would never mint), the harness's
 * OpenID Provider, and SomaAgent's own identity subgraph; all go through the router over HTTP.
 */
const oidc = inject('oidc');
let p: BoundPlatforms & { value: { tenantId: string; adminToken: string } };
let strict: JwksIssuer;
let lenient: JwksIssuer;

beforeAll(async () => {
  strict = await startJwksIssuer();
  lenient = await startJwksIssuer();
  p = await startBoundPlatform(async (setup) => {
    const tenant = await setup.createTenant('hygiene-co');
    const toClaims = oidcClaims({ tenants: [{ tenantId: tenant.tenantId, allowedCapabilities: [] }] });
    return {
      value: { tenantId: tenant.tenantId, adminToken: tenant.adminToken },
      options: {
        externalIssuers: [
          {
            issuer: strict.issuer,
            jwksUrl: strict.jwksUrl,
            audience: strict.audience,
            typ: 'at+jwt',
            maxTokenLifetimeSeconds: 3600,
            toClaims,
          },
          // No typ and the default maximum lifetime (24 h).
          { issuer: lenient.issuer, jwksUrl: lenient.jwksUrl, audience: lenient.audience, toClaims },
          { issuer: oidc.issuer, audience: oidc.audience, typ: 'at+jwt', toClaims },
        ],
      },
    };
  });
}, 120_000);
afterAll(async () => {
  await p?.[Symbol.asyncDispose]();
  await strict?.[Symbol.asyncDispose]();
  await lenient?.[Symbol.asyncDispose]();
});

const VIEWER = '{ viewer { subject tenant { id } } }';
const claimsOf = (issuer: JwksIssuer, times: { iat?: number; exp?: number }) => ({
  iss: issuer.issuer,
  aud: issuer.audience,
  sub: 'client-1',
  ...times,
});
const accepted = async (token: string) => {
  const r = await p.gql(VIEWER, {}, token);
  expect(r.errors).toBeUndefined();
  expect(r.data.viewer.tenant.id).toBe(p.value.tenantId);
};
const refused = async (token: string, message: RegExp) => {
  const r = await p.gql(VIEWER, {}, token);
  expect([r.status, r.code]).toEqual([401, 'UNAUTHENTICATED']);
  expect(r.errors?.[0]?.message).toMatch(message);
};

describe('item 9: token hygiene', () => {
  it('a well-formed token of each issuer is accepted (SomaAgent, provider, JWKS issuers)', async () => {
    const own = await p.gql('{ viewer { subject } }', {}, p.value.adminToken);
    expect(own.errors).toBeUndefined();
    await accepted(await providerToken({ soma_tenant: p.value.tenantId }));
    const t = nowSeconds();
    await accepted(await strict.sign(claimsOf(strict, { iat: t, exp: t + 600 }), { typ: 'at+jwt' }));
    await accepted(
      await strict.sign(claimsOf(strict, { iat: t, exp: t + 600 }), { typ: 'application/at+jwt' }),
    );
    await accepted(await lenient.sign(claimsOf(lenient, { iat: t, exp: t + 600 })));
  });

  it('typ is checked where the issuer sets it', async () => {
    const t = nowSeconds();
    await refused(await strict.sign(claimsOf(strict, { iat: t, exp: t + 600 }), { typ: 'JWT' }), /typ/);
    await refused(await strict.sign(claimsOf(strict, { iat: t, exp: t + 600 })), /typ/);
    await refused(
      await strict.sign(claimsOf(strict, { iat: t, exp: t + 600 }), { typ: 'id_token+jwt' }),
      /typ/,
    );
  });

  it('exp is required', async () => {
    await refused(await strict.sign(claimsOf(strict, { iat: nowSeconds() }), { typ: 'at+jwt' }), /exp/);
    await refused(await lenient.sign(claimsOf(lenient, {})), /exp/);
  });

  it('a lifetime over the configured maximum is refused, measured from iat or, without iat, from now', async () => {
    const t = nowSeconds();
    await refused(
      await strict.sign(claimsOf(strict, { iat: t, exp: t + 3601 }), { typ: 'at+jwt' }),
      /lifetime/,
    );
    await refused(await strict.sign(claimsOf(strict, { exp: t + 7200 }), { typ: 'at+jwt' }), /lifetime/);
    // Issued an hour ago for two hours: lifetime 2 h although only 1 h is left.
    await refused(
      await strict.sign(claimsOf(strict, { iat: t - 3600, exp: t + 3600 }), { typ: 'at+jwt' }),
      /lifetime/,
    );
    await accepted(await strict.sign(claimsOf(strict, { exp: t + 1800 }), { typ: 'at+jwt' }));
  });

  it('the default maximum is 24 h', async () => {
    const t = nowSeconds();
    await accepted(await lenient.sign(claimsOf(lenient, { iat: t, exp: t + 86_400 })));
    await refused(await lenient.sign(claimsOf(lenient, { iat: t, exp: t + 86_401 })), /lifetime/);
    // A "permanent" token (exp in 100 years).
    await refused(await lenient.sign(claimsOf(lenient, { iat: t, exp: t + 100 * 365 * 86_400 })), /lifetime/);
  });

  it('iat in the future beyond the 5 s clock tolerance is refused; within it is accepted', async () => {
    const t = nowSeconds();
    await refused(await lenient.sign(claimsOf(lenient, { iat: t + 60, exp: t + 600 })), /future/);
    await refused(
      await strict.sign(claimsOf(strict, { iat: t + 3600, exp: t + 4000 }), { typ: 'at+jwt' }),
      /future/,
    );
    await accepted(await lenient.sign(claimsOf(lenient, { iat: t + 2, exp: t + 600 })));
  });

  it('a non-numeric iat or exp is refused with 401, not a 500', async () => {
    const t = nowSeconds();
    for (const times of [
      { iat: 'yesterday', exp: t + 600 },
      { iat: t, exp: 'tomorrow' },
      { iat: t, exp: [t + 600] },
    ] as unknown as { iat: number; exp: number }[]) {
      const r = await p.gql(VIEWER, {}, await lenient.sign(claimsOf(lenient, times)));
      expect([r.status, r.code]).toEqual([401, 'UNAUTHENTICATED']);
    }
  });
});
