import { oidcClaims } from '@somaagent/router';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../support/platform';

// The router trusts an external OpenID Provider by configuration only: issuer + audience, keys
// found through discovery. The provider is a real `oidc-provider` process from the harness.
const oidc = inject('oidc');
let t: TestPlatform;
let tenant: Awaited<ReturnType<TestPlatform['createTenant']>>;

async function clientCredentialsToken(extra: Record<string, string> = {}): Promise<string> {
  const discovery = (await (await fetch(`${oidc.issuer}/.well-known/openid-configuration`)).json()) as {
    token_endpoint: string;
  };
  const res = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${oidc.clientId}:${oidc.clientSecret}`).toString('base64')}`,
    },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      resource: oidc.resource,
      scope: 'soma:read',
      ...extra,
    }),
  });
  const body = (await res.json()) as { access_token?: string; error?: string };
  if (!body.access_token) throw new Error(`token endpoint: ${JSON.stringify(body)}`);
  return body.access_token;
}

beforeAll(async () => {
  t = await startTestPlatform({
    externalIssuers: [{ issuer: oidc.issuer, audience: oidc.audience, toClaims: oidcClaims() }],
  });
  tenant = await t.createTenant('oidc-co');
});
afterAll(async () => {
  await t?.[Symbol.asyncDispose]();
});

describe('external OIDC issuer', () => {
  it('accepts a client-credentials token from the provider, mapping tenant and scopes', async () => {
    const token = await clientCredentialsToken({ soma_tenant: tenant.tenantId });
    const r = await t.gql(
      '{ viewer { subject authMethod capabilities platformAdmin tenant { slug } } }',
      {},
      token,
    );
    expect(r.errors).toBeUndefined();
    expect(r.data.viewer).toMatchObject({
      subject: oidc.clientId,
      authMethod: 'OIDC',
      capabilities: ['read'],
      platformAdmin: false,
    });
  });

  it('refuses a token of the provider issued for another audience', async () => {
    const platformOther = await startTestPlatform({
      externalIssuers: [{ issuer: oidc.issuer, audience: 'another-api', toClaims: oidcClaims() }],
    });
    try {
      const r = await platformOther.gql('{ viewer { subject } }', {}, await clientCredentialsToken());
      expect([r.status, r.code]).toEqual([401, 'UNAUTHENTICATED']);
    } finally {
      await platformOther[Symbol.asyncDispose]();
    }
  });
});
