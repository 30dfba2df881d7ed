/**
 * Drives the identity subgraph the way the router does: real HTTP and graphql-ws on port 0,
 * every operation wrapped in an HMAC envelope carrying claims taken from a verified token.
 */
import { InProcessEventBus } from '@somaagent/events';
import { ROUTER_ENVELOPE_EXTENSION, signRouterEnvelope, type VerifiedClaims } from '@somaagent/internal-auth';
import type { SqlDatabase } from '@somaagent/ports';
import { type RunningSubgraph, serveSubgraph } from '@somaagent/subgraph-server';
import { type Client, createClient } from 'graphql-ws';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import WebSocket from 'ws';
import {
  claimsFromAccessTokenPayload,
  createIdentitySubgraph,
  identityMigrations,
  JWKS_PATH,
} from '../src/index';

export const ROUTER_SECRET = 'identity-test-router-secret-0123456789abcdef';
export const ISSUER = 'http://127.0.0.1:4000';
export const AUDIENCE = 'somaagent';
export const PLATFORM_KEY = 'pk_identity_test_platform_admin_key_0123456789';

/**
 * Response data in tests is checked by assertions, not by the type checker: one escape hatch
 * instead of a cast per field access.
 */
// biome-ignore lint/suspicious/noExplicitAny: see above
export type Loose = any;

export interface GraphQLResponse<Data = Record<string, Loose>> {
  data?: Data | null;
  errors?: { message: string; path?: string[]; extensions?: { code?: string; [k: string]: unknown } }[];
}

export interface IdentityHarness extends AsyncDisposable {
  server: RunningSubgraph;
  bus: InProcessEventBus;
  /** Sends one operation as the router would, with `claims` (or none) in the signed envelope. */
  gql<Data = Record<string, Loose>>(
    query: string,
    variables?: Record<string, unknown>,
    claims?: VerifiedClaims | null,
  ): Promise<GraphQLResponse<Data>>;
  jwks(): Promise<JSONWebKeySet>;
  /** Verifies a token against the JWKS route (as the router does) and maps it to claims. */
  claimsFor(accessToken: string): Promise<VerifiedClaims>;
  /** graphql-ws client for subscriptions; the envelope rides in `payload.extensions`. */
  wsClient(): Client;
  subscribe(
    client: Client,
    query: string,
    claims: VerifiedClaims | null,
  ): { next(): Promise<GraphQLResponse>; unsubscribe(): void };
}

export async function startIdentity(db: SqlDatabase): Promise<IdentityHarness> {
  await db.migrate(identityMigrations);
  const bus = new InProcessEventBus();
  const subgraph = await createIdentitySubgraph({
    db,
    events: bus,
    issuer: ISSUER,
    audience: AUDIENCE,
    accessTokenTtlSeconds: 600,
    platformAdminKey: PLATFORM_KEY,
  });
  const server = await serveSubgraph({
    name: subgraph.name,
    schema: subgraph.schema,
    routerSecret: ROUTER_SECRET,
    createContext: subgraph.createContext,
    getRoutes: subgraph.getRoutes,
  });
  const base = new URL(server.url);
  const clients: Client[] = [];

  const gql: IdentityHarness['gql'] = async (query, variables = {}, claims = null) => {
    const envelope = signRouterEnvelope(ROUTER_SECRET, { query, variables }, claims);
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables, extensions: { [ROUTER_ENVELOPE_EXTENSION]: envelope } }),
    });
    return (await res.json()) as GraphQLResponse<never>;
  };
  const jwks = async () => (await (await fetch(new URL(JWKS_PATH, base))).json()) as JSONWebKeySet;
  const claimsFor = async (token: string) => {
    const { payload } = await jwtVerify(token, createLocalJWKSet(await jwks()), {
      issuer: ISSUER,
      audience: AUDIENCE,
    });
    return claimsFromAccessTokenPayload(payload);
  };
  const wsClient = () => {
    const client = createClient({
      url: server.url.replace('http', 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: true,
    });
    clients.push(client);
    return client;
  };
  const subscribe: IdentityHarness['subscribe'] = (client, query, claims) => {
    const envelope = signRouterEnvelope(ROUTER_SECRET, { query, variables: {} }, claims);
    const iterator = client.iterate({
      query,
      variables: {},
      extensions: { [ROUTER_ENVELOPE_EXTENSION]: envelope },
    });
    return {
      next: async () => {
        const step = await iterator.next();
        if (step.done) throw new Error('subscription ended');
        return step.value as GraphQLResponse;
      },
      unsubscribe: () => void iterator.return?.(),
    };
  };
  return {
    server,
    bus,
    gql,
    jwks,
    claimsFor,
    wsClient,
    subscribe,
    async [Symbol.asyncDispose]() {
      for (const client of clients) await client.dispose();
      await server.close();
      await bus[Symbol.asyncDispose]();
    },
  };
}

/** The error code of the first error, or undefined. */
export const codeOf = (r: GraphQLResponse) => r.errors?.[0]?.extensions?.code;
