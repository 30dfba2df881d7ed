import { randomBytes } from 'node:crypto';
import { type PlatformOptions, type RunningPlatform, startPlatform } from '@somaagent/platform';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createTestDatabase, type TestDatabaseOptions, type TestPostgresSqlDatabase } from './postgres';

export interface GraphQLResult {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: response shapes are checked by assertions
  data: any;
  errors: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[] | undefined;
  /** `extensions.code` of the first error. */
  code: string | undefined;
}

/** One GraphQL request over real HTTP, as any client would send it. */
export async function gql(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<GraphQLResult> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: unknown; errors?: GraphQLResult['errors'] };
  return {
    status: res.status,
    data: body.data ?? null,
    errors: body.errors,
    code: body.errors?.[0]?.extensions?.code as string | undefined,
  };
}

export interface TestPlatform extends AsyncDisposable {
  platform: RunningPlatform;
  db: TestPostgresSqlDatabase;
  platformAdminKey: string;
  /** `gql` bound to the router's URL. */
  gql(query: string, variables?: Record<string, unknown>, token?: string): Promise<GraphQLResult>;
  platformToken(): Promise<string>;
  /** Creates a tenant with an admin and returns the admin's access token and ids. */
  createTenant(
    slug: string,
  ): Promise<{ tenantId: string; adminId: string; adminToken: string; adminEmail: string }>;
  wsClient(token: string): ReturnType<typeof createClient>;
}

export const ADMIN_PASSWORD = 'correct horse battery staple';

/**
 * The whole platform (router + subgraphs) in this process, on its own fresh database of the
 * harness's real PostgreSQL server, on loopback port 0.
 */
export async function startTestPlatform(
  overrides: Partial<PlatformOptions> = {},
  databaseOptions: TestDatabaseOptions = {},
): Promise<TestPlatform> {
  const db = await createTestDatabase(databaseOptions);
  const platformAdminKey = `sk_platform_${randomBytes(32).toString('base64url')}`;
  const platform = await startPlatform({
    db,
    issuer: 'http://somaagent.test',
    routerSecret: randomBytes(32).toString('base64url'),
    platformAdminKey,
    signingKeySecret: randomBytes(32).toString('base64url'),
    ...overrides,
  });
  const bound = (query: string, variables?: Record<string, unknown>, token?: string) =>
    gql(platform.url, query, variables, token);
  const clients: ReturnType<typeof createClient>[] = [];

  const platformToken = async () => {
    const r = await bound('mutation($s: String!) { exchangeApiKey(secret: $s) { accessToken } }', {
      s: platformAdminKey,
    });
    if (!r.data) throw new Error(`platform token: ${JSON.stringify(r.errors)}`);
    return r.data.exchangeApiKey.accessToken as string;
  };

  return {
    platform,
    db,
    platformAdminKey,
    gql: bound,
    platformToken,
    async createTenant(slug) {
      const adminEmail = `admin@${slug}.test`;
      const created = await bound(
        `mutation($i: CreateTenantInput!) { createTenant(input: $i) { tenant { id } admin { id } } }`,
        {
          i: {
            slug,
            name: `Tenant ${slug}`,
            adminEmail,
            adminPassword: ADMIN_PASSWORD,
            adminDisplayName: 'Admin',
          },
        },
        await platformToken(),
      );
      if (!created.data) throw new Error(`createTenant ${slug}: ${JSON.stringify(created.errors)}`);
      const signed = await bound('mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }', {
        i: { tenantSlug: slug, email: adminEmail, password: ADMIN_PASSWORD },
      });
      if (!signed.data) throw new Error(`signIn ${slug}: ${JSON.stringify(signed.errors)}`);
      return {
        tenantId: created.data.createTenant.tenant.id,
        adminId: created.data.createTenant.admin.id,
        adminToken: signed.data.signIn.accessToken,
        adminEmail,
      };
    },
    wsClient(token) {
      const client = createClient({
        url: platform.wsUrl,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${token}` },
        retryAttempts: 0,
      });
      clients.push(client);
      return client;
    },
    async [Symbol.asyncDispose]() {
      for (const client of clients) await client.dispose();
      await platform.close();
      await db[Symbol.asyncDispose]();
    },
  };
}
