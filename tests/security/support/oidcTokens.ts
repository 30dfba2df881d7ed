import { randomBytes } from 'node:crypto';
import { type PlatformOptions, type RunningPlatform, startPlatform } from '@somaagent/platform';
import { inject } from 'vitest';
import { type GraphQLResult, gql, startTestPlatform, type TestPlatform } from '../../support/platform';

/**
 * An access token from the harness's real OpenID Provider (oidc-provider process), client
 * credentials grant. `soma_tenant` (a form parameter that provider honours) names the tenant.
 */
export async function providerToken(params: { scope?: string; soma_tenant?: string } = {}): Promise<string> {
  const oidc = inject('oidc');
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
      scope: params.scope ?? 'soma:read',
      ...(params.soma_tenant !== undefined ? { soma_tenant: params.soma_tenant } : {}),
    }),
  });
  const body = (await res.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`token endpoint: ${JSON.stringify(body)}`);
  return body.access_token;
}

export interface BoundPlatforms extends AsyncDisposable {
  /** The first platform: tenants were created through it. */
  setup: TestPlatform;
  /** A second platform on the same database, started with the options that need tenant ids. */
  bound: RunningPlatform;
  gql(query: string, variables?: Record<string, unknown>, token?: string): Promise<GraphQLResult>;
}

/**
 * Tenant ids exist only once tenants are created, and external issuers are bound to tenant ids
 * at start-up; so, as an operator does (create the tenant, then configure SOMA_OIDC_ISSUERS and
 * restart), this starts one platform, lets `prepare` create tenants through it, and starts a
 * second platform on the same database (same signing keys) with the options `prepare` returns.
 */
export async function startBoundPlatform<T>(
  prepare: (setup: TestPlatform) => Promise<{ options: Partial<PlatformOptions>; value: T }>,
): Promise<BoundPlatforms & { value: T }> {
  const signingKeySecret = randomBytes(32).toString('base64url');
  const setup = await startTestPlatform({ signingKeySecret });
  try {
    const { options, value } = await prepare(setup);
    const bound = await startPlatform({
      db: setup.db,
      issuer: 'http://somaagent.test',
      routerSecret: randomBytes(32).toString('base64url'),
      platformAdminKey: setup.platformAdminKey,
      signingKeySecret,
      ...options,
    });
    return {
      setup,
      bound,
      value,
      gql: (query, variables, token) => gql(bound.url, query, variables, token),
      async [Symbol.asyncDispose]() {
        await bound.close();
        await setup[Symbol.asyncDispose]();
      },
    };
  } catch (error) {
    await setup[Symbol.asyncDispose]();
    throw error;
  }
}
