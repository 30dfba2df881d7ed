import { readFileSync } from 'node:fs';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { EventBus, EventEnvelope, SqlDatabase, TenantRoleDirectory } from '@somaagent/ports';
import { GraphQLError, GraphQLScalarType, type GraphQLSchema, Kind, parse } from 'graphql';
import { ALL_CAPABILITIES, IDENTITY_CAPABILITIES, IdentityCapability } from './capabilities';
import type { AuthMethod, Resolvers } from './generated/resolvers-types';
import { IdentityService } from './IdentityService';
import {
  IDENTITY_EVENTS_TOPIC,
  type IdentityEventModel,
  type IdentityEventPayload,
  type IdentityEventType,
} from './models';
import { PrivateKeyCipher } from './privateKeyCipher';
import { RevocationList } from './RevocationList';
import { SignInThrottle, type SignInThrottleOptions } from './SignInThrottle';
import { SigningKeyStore } from './SigningKeyStore';
import { SqlTenantRoleDirectory } from './SqlTenantRoleDirectory';
import { TokenService } from './TokenService';

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
   * Secret (≥ 32 characters) that seals the private signing keys at rest (AES-256-GCM). Without
   * it they are stored as plain JWKs, readable by anyone who can read the table: development only.
   */
  signingKeySecret?: string;
  /**
   * Capabilities roles and API keys may carry, besides '*'. Other domains add theirs here.
   * @default the identity capabilities
   */
  knownCapabilities?: readonly string[];
  /**
   * Failed sign-in back-off and lockout, per account and per client IP.
   * @default DEFAULT_SIGN_IN_THROTTLE, counters in this process's memory
   */
  signInThrottle?: SignInThrottleOptions;
}

/** What the router tells a subgraph about the request besides the claims. */
export interface IdentityRequestInfo {
  /** The client's IP as the router's socket saw it; absent when the router did not forward it. */
  clientIp?: string | undefined;
}

/** Per-operation context: the claims the router verified, and the client IP it saw. */
export interface IdentityContext {
  claims: VerifiedClaims | null;
  clientIp: string | undefined;
}

export interface IdentitySubgraph {
  name: 'identity';
  schema: GraphQLSchema;
  createContext: (claims: VerifiedClaims | null, request?: IdentityRequestInfo) => IdentityContext;
  /** Plain GET routes to serve next to /graphql; includes '/.well-known/jwks.json'. */
  getRoutes: Record<string, () => Promise<{ status: number; body: unknown }>>;
  /** Adds a signing key; tokens signed with the previous ones verify for 2× the token lifetime. */
  rotateSigningKey(): Promise<{ kid: string }>;
  /**
   * For the router's entry of this issuer (`TrustedIssuer.isRevoked`): whether a token was
   * revoked (its API key revoked, its user disabled or a role taken from them) after it was issued.
   */
  isRevoked(token: { subject: string; issuedAt: number | undefined }): boolean;
  /** The tenants' roles and what they grant, for external identities bound to roles (router). */
  roleDirectory: TenantRoleDirectory;
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

const AUTH_METHOD = {
  password: 'PASSWORD',
  api_key: 'API_KEY',
  platform_key: 'PLATFORM_KEY',
  oidc: 'OIDC',
} as const satisfies Record<VerifiedClaims['authMethod'], AuthMethod>;

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
  const keys = new SigningKeyStore(
    deps.db,
    2 * ttl,
    deps.signingKeySecret ? new PrivateKeyCipher(deps.signingKeySecret) : undefined,
  );
  await keys.ensureKey();
  // Kept for a token lifetime plus a minute of clock tolerance: no older token is valid anyway.
  const revocations = await RevocationList.load(deps.db, ttl + 60);
  const service = new IdentityService({
    db: deps.db,
    events: deps.events,
    keys,
    knownCapabilities: new Set([
      ALL_CAPABILITIES,
      ...IDENTITY_CAPABILITIES,
      ...(deps.knownCapabilities ?? []),
    ]),
    revocations,
  });
  const tokens = new TokenService({
    db: deps.db,
    events: deps.events,
    keys,
    issuer: deps.issuer,
    audience: deps.audience,
    accessTokenTtlSeconds: ttl,
    platformAdminKey: deps.platformAdminKey || undefined,
    throttle: new SignInThrottle(deps.signInThrottle),
  });

  const resolvers: Resolvers = {
    DateTime,
    Query: {
      viewer: (_, __, { claims }) => (claims ? { claims } : null),
      tenant: (_, __, { claims }) => {
        service.authorise(claims, IdentityCapability.TENANT_READ);
        return service.tenant(claims);
      },
      users: (_, args, { claims }) => service.users(claims, args),
      user: (_, { id }, { claims }) => service.user(claims, id),
      roles: (_, args, { claims }) => service.roles(claims, args),
      apiKeys: (_, args, { claims }) => service.apiKeys(claims, args),
    },
    Viewer: {
      subject: ({ claims }) => claims.subject,
      // Your own tenant needs no capability.
      tenant: ({ claims }) => service.tenant(claims),
      roles: ({ claims }) => claims.roles,
      capabilities: ({ claims }) => claims.capabilities,
      platformAdmin: ({ claims }) => claims.platformAdmin,
      authMethod: ({ claims }) => AUTH_METHOD[claims.authMethod],
    },
    Tenant: {
      __resolveReference: (ref, { claims }) => service.tenant(claims, ref.id),
    },
    User: {
      __resolveReference: (ref, { claims }) => service.userReference(claims, ref.id),
    },
    Mutation: {
      createTenant: (_, { input }, { claims }) => service.createTenant(claims, input),
      signIn: (_, { input }, { clientIp }) => tokens.signIn(input, { clientIp }),
      exchangeApiKey: (_, { secret }) => tokens.exchangeApiKey(secret),
      createUser: (_, { input }, { claims }) => service.createUser(claims, input),
      createRole: (_, { input }, { claims }) => service.createRole(claims, input),
      assignRole: (_, { userId, roleName }, { claims }) => service.assignRole(claims, userId, roleName),
      createApiKey: (_, { input }, { claims }) => service.createApiKey(claims, input),
      revokeApiKey: (_, { id }, { claims }) => service.revokeApiKey(claims, id),
      disableUser: (_, { id }, { claims }) => service.disableUser(claims, id),
      unassignRole: (_, { userId, roleName }, { claims }) => service.unassignRole(claims, userId, roleName),
      rotateSigningKey: (_, __, { claims }) => service.rotateSigningKey(claims),
    },
    Subscription: {
      identityEvents: {
        subscribe: (_, __, { claims }) => {
          const { tenantId } = service.authorise(claims, IdentityCapability.EVENTS_READ);
          const abort = new AbortController();
          return filterEvents(deps.events.subscribe(IDENTITY_EVENTS_TOPIC, abort.signal), abort, (event) => {
            if (event.tenantId !== tenantId) return undefined;
            const payload = event.payload as IdentityEventPayload;
            const model: IdentityEventModel = {
              type: event.type as IdentityEventType,
              tenantId: event.tenantId,
              subjectId: payload.subjectId,
              actorId: payload.actorId,
              occurredAt: event.occurredAt,
            };
            return model;
          });
        },
        resolve: (event: IdentityEventModel) => event,
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
    createContext: (claims, request) => ({
      claims,
      clientIp:
        typeof request?.clientIp === 'string' && request.clientIp.length <= 64 ? request.clientIp : undefined,
    }),
    getRoutes: {
      [JWKS_PATH]: async () => ({ status: 200, body: await keys.jwks() }),
    },
    rotateSigningKey: () => keys.rotate(),
    isRevoked: revocations.isRevoked,
    roleDirectory: new SqlTenantRoleDirectory(deps.db),
  };
}
