import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { InProcessEventBus } from '@somaagent/events';
import {
  claimsFromAccessTokenPayload,
  createIdentitySubgraph,
  type IdentityDeps,
  identityMigrations,
} from '@somaagent/identity';
import { createRouter, type RunningRouter } from '@somaagent/router';
import { serveSubgraph } from '@somaagent/subgraph-server';
import { type GraphQLResult, gql } from '../../support/platform';
import { createTestDatabase } from '../../support/postgres';

export interface IdentityBehindRouter extends AsyncDisposable {
  router: RunningRouter;
  gql(query: string, variables?: Record<string, unknown>, token?: string): Promise<GraphQLResult>;
  platformAdminKey: string;
}

/**
 * The real router in front of the real identity subgraph over signed HTTP and graphql-ws, on a
 * fresh database of the harness PostgreSQL, with identity options the platform does not pass
 * through yet. The router trusts identity's tokens with its revocation check, as the platform's
 * own issuer entry should. Operations here touch identity only; the other subgraphs' URLs are
 * never called.
 */
export async function startIdentityBehindRouter(
  deps: Partial<Omit<IdentityDeps, 'db' | 'events' | 'issuer' | 'audience' | 'platformAdminKey'>> = {},
): Promise<IdentityBehindRouter> {
  const db = await createTestDatabase();
  await db.migrate(identityMigrations);
  const routerSecret = randomBytes(32).toString('base64url');
  const platformAdminKey = `sk_platform_${randomBytes(32).toString('base64url')}`;
  const identity = await createIdentitySubgraph({
    db,
    events: new InProcessEventBus(),
    issuer: 'http://somaagent.test',
    audience: 'somaagent',
    platformAdminKey,
    ...deps,
  });
  const server = await serveSubgraph({
    name: 'identity',
    schema: identity.schema,
    routerSecret,
    createContext: identity.createContext,
    getRoutes: identity.getRoutes,
  });
  const unused = 'http://127.0.0.1:9/graphql';
  const router = await createRouter({
    supergraphSdl: readFileSync(resolve(import.meta.dirname, '../../../schema/supergraph.graphql'), 'utf8'),
    subgraphUrls: {
      identity: server.url,
      sessions: unused,
      memory: unused,
      policy: unused,
      capsules: unused,
    },
    routerSecret,
    issuers: [
      {
        issuer: 'http://somaagent.test',
        audience: 'somaagent',
        jwksUrl: server.url.replace(/\/graphql$/, '/.well-known/jwks.json'),
        toClaims: claimsFromAccessTokenPayload,
        isRevoked: identity.isRevoked,
      },
    ],
  });
  return {
    router,
    platformAdminKey,
    gql: (query, variables, token) => gql(router.url, query, variables, token),
    async [Symbol.asyncDispose]() {
      await router.close();
      await server.close();
      await db[Symbol.asyncDispose]();
    },
  };
}
