/**
 * A real OpenID Provider (npm `oidc-provider`, a certified implementation) for tests and local
 * development. Run by the `oidc` engine as `node --import tsx scripts/infra/oidc/server.ts` with
 * SOMA_OIDC_PORT and SOMA_OIDC_DIR; listens on 127.0.0.1 only.
 *
 * Access tokens for the SomaAgent API (resource `urn:somaagent`, the default resource) are RS256
 * JWTs with `aud: somaagent`, `scope`, and `soma_tenant`. The tenant is the client's
 * `soma_tenant` metadata, unless the token request carries a `soma_tenant` form parameter, which
 * then wins: tests mint tokens for tenants they create at run time. (This is a test IdP; a
 * production IdP maps the tenant from the user's directory entry.)
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors } from 'oidc-provider';
import { OIDC_AUDIENCE, OIDC_RESOURCE, OIDC_SCOPES, type OidcServerConfig } from './config';

const port = Number(process.env.SOMA_OIDC_PORT);
const dir = process.env.SOMA_OIDC_DIR;
if (!port || !dir) throw new Error('SOMA_OIDC_PORT and SOMA_OIDC_DIR must be set');

/** Signing keys persist across restarts, so tokens issued before a restart still verify. */
async function signingKeys() {
  const path = join(dir!, 'jwks.json');
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8')) as { keys: Record<string, unknown>[] };
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = {
    ...(await exportJWK(privateKey)),
    alg: 'RS256',
    use: 'sig',
    kid: `soma-${Date.now().toString(36)}`,
  };
  const jwks = { keys: [jwk] };
  writeFileSync(path, JSON.stringify(jwks), { mode: 0o600 });
  return jwks;
}

const TENANT_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

const config = JSON.parse(readFileSync(join(dir, 'clients.json'), 'utf8')) as OidcServerConfig;
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  jwks: await signingKeys(),
  clients: config.clients.map((c) => ({
    ...c,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  })),
  scopes: ['openid', 'offline_access', ...OIDC_SCOPES],
  extraClientMetadata: {
    properties: ['soma_tenant'],
    validator(_ctx, key, value) {
      if (
        key === 'soma_tenant' &&
        value !== undefined &&
        (typeof value !== 'string' || !TENANT_PATTERN.test(value))
      ) {
        throw new errors.InvalidClientMetadata('soma_tenant must be a string of 1-128 [A-Za-z0-9._:-]');
      }
    },
  },
  extraTokenClaims(ctx, token) {
    if (token.kind !== 'ClientCredentials') return undefined;
    const requested = ctx.oidc.body?.soma_tenant;
    if (requested !== undefined) {
      if (typeof requested !== 'string' || !TENANT_PATTERN.test(requested)) {
        throw new errors.InvalidRequest('soma_tenant must be a string of 1-128 [A-Za-z0-9._:-]');
      }
      return { soma_tenant: requested };
    }
    const tenant = ctx.oidc.client?.soma_tenant;
    return typeof tenant === 'string' ? { soma_tenant: tenant } : undefined;
  },
  // Tokens are stateless JWTs; the in-memory adapter only holds nothing we need across restarts.
  ttl: { ClientCredentials: 3600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Token requests without `resource` still get a JWT for the SomaAgent API.
      defaultResource: () => OIDC_RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo(_ctx: unknown, indicator: string, client: { scope?: string }) {
        if (indicator !== OIDC_RESOURCE) throw new errors.InvalidTarget(`unknown resource ${indicator}`);
        return {
          scope: client.scope ?? OIDC_SCOPES.join(' '),
          audience: OIDC_AUDIENCE,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 3600,
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
});

provider.on('server_error', (_ctx, error) => console.error('[oidc] server_error', error));

const server = createServer(provider.callback());
server.listen(port, '127.0.0.1', () => console.log(`[oidc] issuer ${issuer} ready (pid ${process.pid})`));

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
