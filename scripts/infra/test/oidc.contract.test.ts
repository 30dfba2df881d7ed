import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, inject, it } from 'vitest';

/**
 * The harness OpenID Provider behaves like the production IdP as far as SomaAgent relies on it:
 * discovery, JWKS, client_credentials, and JWT access tokens verifiable with jose.
 */
const oidc = inject('oidc');

async function token(form: Record<string, string>, secret = oidc.clientSecret) {
  const response = await fetch(`${oidc.issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${oidc.clientId}:${secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...form }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('harness OpenID Provider (oidc-provider)', () => {
  it('serves discovery for its issuer, bound to 127.0.0.1', async () => {
    expect(oidc.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const response = await fetch(`${oidc.issuer}/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    const doc = (await response.json()) as Record<string, unknown>;
    expect(doc.issuer).toBe(oidc.issuer);
    expect(doc.grant_types_supported).toContain('client_credentials');
    expect(doc.token_endpoint).toBe(`${oidc.issuer}/token`);
    expect(typeof doc.jwks_uri).toBe('string');
  });

  it('publishes public signing keys only', async () => {
    const doc = (await (await fetch(`${oidc.issuer}/.well-known/openid-configuration`)).json()) as {
      jwks_uri: string;
    };
    const jwks = (await (await fetch(doc.jwks_uri)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const key of jwks.keys) {
      expect(key.use).toBe('sig');
      expect(key.d).toBeUndefined();
    }
  });

  it('issues a client_credentials JWT that jose verifies with issuer and audience', async () => {
    const { status, body } = await token({ scope: 'soma:read soma:write', resource: oidc.resource });
    expect(status).toBe(200);
    expect(body.token_type).toBe('Bearer');
    const accessToken = body.access_token as string;
    expect(decodeProtectedHeader(accessToken).alg).toBe('RS256');
    const jwks = createRemoteJWKSet(new URL(`${oidc.issuer}/jwks`));
    const { payload } = await jwtVerify(accessToken, jwks, { issuer: oidc.issuer, audience: oidc.audience });
    expect(payload.client_id).toBe(oidc.clientId);
    expect(payload.scope).toBe('soma:read soma:write');
    expect(payload.soma_tenant).toBe(oidc.tenant);
    expect(payload.exp! - payload.iat!).toBeGreaterThan(0);
  });

  it('defaults the resource, so a request without `resource` still gets a JWT for the API', async () => {
    const { status, body } = await token({ scope: 'soma:read' });
    expect(status).toBe(200);
    const jwks = createRemoteJWKSet(new URL(`${oidc.issuer}/jwks`));
    const { payload } = await jwtVerify(body.access_token as string, jwks, {
      issuer: oidc.issuer,
      audience: oidc.audience,
    });
    expect(payload.scope).toBe('soma:read');
  });

  it('puts the tenant named in the token request into soma_tenant', async () => {
    const tenant = '3f1c2b9e-0000-4000-8000-00000000abcd';
    const { status, body } = await token({ scope: 'soma:read', soma_tenant: tenant });
    expect(status).toBe(200);
    const jwks = createRemoteJWKSet(new URL(`${oidc.issuer}/jwks`));
    const { payload } = await jwtVerify(body.access_token as string, jwks, {
      issuer: oidc.issuer,
      audience: oidc.audience,
    });
    expect(payload.soma_tenant).toBe(tenant);
  });

  it('refuses a malformed tenant, a wrong secret, and an unknown resource', async () => {
    const badTenant = await token({ scope: 'soma:read', soma_tenant: "x' OR 1=1" });
    expect(badTenant.status).toBe(400);
    expect(badTenant.body.error).toBe('invalid_request');
    const badSecret = await token({ scope: 'soma:read' }, 'not-the-secret');
    expect(badSecret.status).toBe(401);
    expect(badSecret.body.error).toBe('invalid_client');
    const badResource = await token({ scope: 'soma:read', resource: 'urn:someone-else' });
    expect(badResource.status).toBe(400);
    expect(badResource.body.error).toBe('invalid_target');
  });

  it('rejects a token for another audience or a forged signature', async () => {
    const { body } = await token({ scope: 'soma:read' });
    const accessToken = body.access_token as string;
    const jwks = createRemoteJWKSet(new URL(`${oidc.issuer}/jwks`));
    await expect(
      jwtVerify(accessToken, jwks, { issuer: oidc.issuer, audience: 'other-api' }),
    ).rejects.toThrow();
    const [header, payload, signature] = accessToken.split('.');
    const forged = `${header}.${payload}.${signature!.slice(0, -4)}AAAA`;
    await expect(jwtVerify(forged, jwks, { issuer: oidc.issuer, audience: oidc.audience })).rejects.toThrow();
  });
});
