import { readFileSync } from 'node:fs';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { EventBus, EventEnvelope, SqlDatabase } from '@somaagent/ports';
import { GraphQLError, GraphQLScalarType, type GraphQLSchema, Kind, parse } from 'graphql';
import { ALL_CAPABILITIES, IDENTITY_CAPABILITIES, IdentityCapability } from './capabilities';
import { IdentityService, type PageInput } from './IdentityService';
import { IDENTITY_EVENTS_TOPIC, type IdentityEventPayload } from './models';
import { SigningKeyStore } from './SigningKeyStore';

export interface IdentityDeps {
  db: SqlDatabase;
  events: EventBus;
  /** JWT `iss` of the tokens this platform issues, e.g. 'http://127.0.0.1:4000'. */
  issuer: string;
  /** JWT `aud`, e.g. 'somaagent'. */
  audience: string;
  /** @default 900 */
  accessTokenTtlSeconds?: number;
  /**
   * The bootstrap platform key: `exchangeApiKey(platformAdminKey)` returns a platform-admin
   * token. Compared in constant time (sha256 of both). Omit to disable.
   */
  platformAdminKey?: string;
  /**
   * Capabilities roles and API keys may carry, besides '*'. Other domains add theirs here.
   * @default the identity capabilities
   */
  knownCapabilities?: readonly string[];
}

/** Per-operation context: only the claims the router verified. */
export interface IdentityContext {
  claims: VerifiedClaims | null;
}

export interface IdentitySubgraph {
  name: 'identity';
  schema: GraphQLSchema;
  createContext: (claims: VerifiedClaims | null) => IdentityContext;
  /** Plain GET routes to serve next to /graphql; includes '/.well-known/jwks.json'. */
  getRoutes: Record<string, () => Promise<{ status: number; body: unknown }>>;
  /** Adds a signing key; tokens signed with the previous ones verify for 2× the token lifetime. */
  rotateSigningKey(): Promise<{ kid: string }>;
}

export const JWKS_PATH = '/.well-known/jwks.json';

/** The subgraph's SDL (schema.graphql next to src/). */
export const identityTypeDefs = parse(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));

const DateTime = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description: 'ISO 8601 timestamp in UTC.',
  serialize(value) {
    const date = value instanceof Date ? value : new Date(value as string);
    if (Number.isNaN(date.getTime())) throw new GraphQLError('DateTime cannot represent an invalid date');
    return date.toISOString();
  },
  parseValue(value) {
    const date = new Date(value as string);
    if (typeof value !== 'string' || Number.isNaN(date.getTime())) {
      throw new GraphQLError('DateTime must be an ISO 8601 string');
    }
    return date;
  },
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING || Number.isNaN(new Date(ast.value).getTime())) {
      throw new GraphQLError('DateTime must be an ISO 8601 string');
    }
    return new Date(ast.value);
  },
});

const AUTH_METHOD = { PASSWORD: 'password', API_KEY: 'api_key', PLATFORM_KEY: 'platform_key', OIDC: 'oidc' };

/**
 * Wraps an event stream so that `return()` (a client unsubscribing) aborts the underlying
 * subscription at once, even while a `next()` is waiting for an event that may never come.
 */
function filterEvents<T>(
  source: AsyncIterableIterator<EventEnvelope>,
  abort: AbortController,
  map: (event: EventEnvelope) => T | undefined,
): AsyncIterableIterator<T> {
  const iterator: AsyncIterableIterator<T> = {
    async next() {
      for (;;) {
        const step = await source.next();
        if (step.done) return { value: undefined, done: true };
        const mapped = map(step.value);
        if (mapped !== undefined) return { value: mapped, done: false };
      }
    },
    async return() {
      abort.abort();
      await source.return?.();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

/**
 * Builds the identity subgraph: tenants, users, roles, API keys and the platform's access
 * tokens (ES256 JWTs, keys published at {@link JWKS_PATH}). Makes a first signing key when the
 * database has none; run `identityMigrations` before calling.
 */
export async function createIdentitySubgraph(deps: IdentityDeps): Promise<IdentitySubgraph> {
  const ttl = deps.accessTokenTtlSeconds ?? 900;
  if (!Number.isInteger(ttl) || ttl <= 0)
    throw new RangeError('accessTokenTtlSeconds must be a positive integer');
  const keys = new SigningKeyStore(deps.db, 2 * ttl);
  await keys.ensureKey();
  const service = new IdentityService({
    db: deps.db,
    events: deps.events,
    keys,
    issuer: deps.issuer,
    audience: deps.audience,
    accessTokenTtlSeconds: ttl,
    platformAdminKey: deps.platformAdminKey || undefined,
    knownCapabilities: new Set([
      ALL_CAPABILITIES,
      ...IDENTITY_CAPABILITIES,
      ...(deps.knownCapabilities ?? []),
    ]),
  });

  type Ctx = IdentityContext;
  const resolvers = {
    DateTime,
    AuthMethod: AUTH_METHOD,
    Query: {
      viewer: (_: unknown, __: unknown, { claims }: Ctx) => (claims ? { claims } : null),
      tenant: (_: unknown, __: unknown, { claims }: Ctx) => {
        service.authorise(claims, IdentityCapability.TENANT_READ);
        return service.tenant(claims);
      },
      users: (_: unknown, args: PageInput, { claims }: Ctx) => service.users(claims, args),
      user: (_: unknown, args: { id: string }, { claims }: Ctx) => service.user(claims, args.id),
      roles: (_: unknown, args: PageInput, { claims }: Ctx) => service.roles(claims, args),
      apiKeys: (_: unknown, args: PageInput, { claims }: Ctx) => service.apiKeys(claims, args),
    },
    Viewer: {
      subject: (v: { claims: VerifiedClaims }) => v.claims.subject,
      // Your own tenant needs no capability.
      tenant: (v: { claims: VerifiedClaims }) => service.tenant(v.claims),
      roles: (v: { claims: VerifiedClaims }) => v.claims.roles,
      capabilities: (v: { claims: VerifiedClaims }) => v.claims.capabilities,
      platformAdmin: (v: { claims: VerifiedClaims }) => v.claims.platformAdmin,
      authMethod: (v: { claims: VerifiedClaims }) => v.claims.authMethod,
    },
    Tenant: {
      __resolveReference: (ref: { id: string }, { claims }: Ctx) => service.tenant(claims, ref.id),
    },
    User: {
      __resolveReference: (ref: { id: string }, { claims }: Ctx) => service.userReference(claims, ref.id),
    },
    Mutation: {
      createTenant: (
        _: unknown,
        args: { input: Parameters<IdentityService['createTenant']>[1] },
        { claims }: Ctx,
      ) => service.createTenant(claims, args.input),
      signIn: (_: unknown, args: { input: Parameters<IdentityService['signIn']>[0] }) =>
        service.signIn(args.input),
      exchangeApiKey: (_: unknown, args: { secret: string }) => service.exchangeApiKey(args.secret),
      createUser: (
        _: unknown,
        args: { input: Parameters<IdentityService['createUser']>[1] },
        { claims }: Ctx,
      ) => service.createUser(claims, args.input),
      createRole: (
        _: unknown,
        args: { input: Parameters<IdentityService['createRole']>[1] },
        { claims }: Ctx,
      ) => service.createRole(claims, args.input),
      assignRole: (_: unknown, args: { userId: string; roleName: string }, { claims }: Ctx) =>
        service.assignRole(claims, args.userId, args.roleName),
      createApiKey: (
        _: unknown,
        args: { input: Parameters<IdentityService['createApiKey']>[1] },
        { claims }: Ctx,
      ) => service.createApiKey(claims, args.input),
      revokeApiKey: (_: unknown, args: { id: string }, { claims }: Ctx) =>
        service.revokeApiKey(claims, args.id),
      rotateSigningKey: (_: unknown, __: unknown, { claims }: Ctx) => service.rotateSigningKey(claims),
    },
    Subscription: {
      identityEvents: {
        subscribe: (_: unknown, __: unknown, { claims }: Ctx) => {
          const { tenantId } = service.authorise(claims, IdentityCapability.EVENTS_READ);
          const abort = new AbortController();
          return filterEvents(deps.events.subscribe(IDENTITY_EVENTS_TOPIC, abort.signal), abort, (event) => {
            if (event.tenantId !== tenantId) return undefined;
            const payload = event.payload as IdentityEventPayload;
            return {
              type: event.type,
              tenantId: event.tenantId,
              subjectId: payload.subjectId,
              actorId: payload.actorId,
              occurredAt: event.occurredAt,
            };
          });
        },
        resolve: (event: unknown) => event,
      },
    },
  };

  const schema = buildSubgraphSchema({
    typeDefs: identityTypeDefs,
    resolvers: resolvers as unknown as GraphQLResolverMap<unknown>,
  });

  return {
    name: 'identity',
    schema,
    createContext: (claims) => ({ claims }),
    getRoutes: {
      [JWKS_PATH]: async () => ({ status: 200, body: await keys.jwks() }),
    },
    rotateSigningKey: () => keys.rotate(),
  };
}
