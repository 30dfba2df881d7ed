import { randomBytes } from 'node:crypto';
import { type RunningPlatform, startPlatform } from '@somaagent/platform';
import { oidcClaims } from '@somaagent/router';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { providerToken } from '../security/support/oidcTokens';
import { gql, startTestPlatform, type TestPlatform } from '../support/platform';

// The router trusts an external OpenID Provider by configuration only: issuer + audience (keys
// found through discovery) and the tenants it may act for. The provider is a real
// `oidc-provider` process from the harness. Issuers are bound to tenant ids at start-up, so, as an
// operator does, a tenant is created first and the platform started again (same database and
// signing keys) with the issuer bound to it.
const oidc = inject('oidc');
const signingKeySecret = randomBytes(32).toString('base64url');
let t: TestPlatform;
let bound: RunningPlatform;
let tenant: Awaited<ReturnType<TestPlatform['createTenant']>>;

const startBound = (audience: string) =>
  startPlatform({
    db: t.db,
    issuer: 'http://somaagent.test',
    routerSecret: randomBytes(32).toString('base64url'),
    platformAdminKey: t.platformAdminKey,
    signingKeySecret,
    externalIssuers: [
      {
        issuer: oidc.issuer,
        audience,
        typ: 'at+jwt',
        toClaims: oidcClaims({
          tenants: [{ tenantId: tenant.tenantId, allowedCapabilities: ['read', 'identity:tenant:read'] }],
        }),
      },
    ],
  });

beforeAll(async () => {
  t = await startTestPlatform({ signingKeySecret });
  tenant = await t.createTenant('oidc-co');
  bound = await startBound(oidc.audience);
});
afterAll(async () => {
  await bound?.close();
  await t?.[Symbol.asyncDispose]();
});

describe('external OIDC issuer', () => {
  it('accepts a client-credentials token from the provider, mapping tenant and scopes', async () => {
    const token = await providerToken({ soma_tenant: tenant.tenantId });
    const r = await gql(
      bound.url,
      '{ viewer { subject authMethod capabilities platformAdmin tenant { slug } } }',
      {},
      token,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data.viewer).toMatchObject({
      subject: `oidc:${oidc.issuer}#${oidc.clientId}`,
      authMethod: 'OIDC',
      capabilities: ['read'],
      platformAdmin: false,
      tenant: { slug: 'oidc-co' },
    });
  });

  it('refuses a token of the provider issued for another audience', async () => {
    const platformOther = await startBound('another-api');
    try {
      const token = await providerToken({ soma_tenant: tenant.tenantId });
      const r = await gql(platformOther.url, '{ viewer { subject } }', {}, token);
      expect([r.status, r.code]).toEqual([401, 'UNAUTHENTICATED']);
    } finally {
      await platformOther.close();
    }
  });
});
