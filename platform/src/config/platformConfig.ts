import { z } from 'zod';
import {
  bool,
  chatModelEnv,
  checkEngineEnv,
  databaseEnv,
  embeddingsEnv,
  jsonOf,
  kafkaEnv,
  llmEnv,
  metricsEnv,
  opaEnv,
  redisEnv,
  s3Env,
  temporalEnv,
  trustedProxiesEnv,
} from './engineEnv';
import { readConfigOrExit } from './readConfig';

/** SOMA_MODEL_PRICES. */
export const ModelPrices = z.record(
  z.string(),
  z.object({ promptUsdPerMillion: z.number().min(0), completionUsdPerMillion: z.number().min(0) }),
);
const count = z.number().int().min(1);
const TenantRateLimits = z
  .object({
    requestsPerMinutePerSubject: count,
    requestsPerMinutePerTenant: count,
    maxConnectionsPerUser: count,
    maxSubscriptionsPerUser: count,
    socketOperationsPerSecondPerUser: count,
  })
  .partial()
  .strict();
const GenerationQuota = z
  .object({ maxConcurrentGenerationsPerUser: count, maxConcurrentGenerationsPerTenant: count })
  .partial()
  .strict();
/** SOMA_RATE_LIMITS: the router's quotas and the sessions' generation quota (`splitRateLimits`). */
export const RateLimits = TenantRateLimits.extend({
  requestsPerMinutePerIp: count.optional(),
  tenantOverrides: z.record(z.string(), TenantRateLimits).optional(),
  ...GenerationQuota.shape,
  generationTenantOverrides: z.record(z.string(), GenerationQuota).optional(),
}).strict();
/** SOMA_OIDC_ISSUERS (`externalIssuersOf` turns it into the router's trusted issuers). */
export const OidcIssuers = z.array(
  z
    .object({
      issuer: z.string().url(),
      audience: z.string().min(1),
      jwksUrl: z.string().url().optional(),
      typ: z.string().min(1).optional(),
      maxTokenLifetimeSeconds: z.number().int().positive().optional(),
      tenantClaim: z.string().min(1).optional(),
      capabilityScopePrefix: z.string().optional(),
      scopeCapabilities: z.record(z.string(), z.array(z.string().min(1))).optional(),
      subjectPrefix: z.string().optional(),
      groupsClaim: z.string().min(1).optional(),
      tenants: z
        .array(
          z
            .object({
              tenantId: z.string().uuid(),
              claimValue: z.string().min(1).max(255).optional(),
              allowedCapabilities: z.array(z.string().min(1)),
              roles: z.array(z.string().min(1)).optional(),
              rolesByGroup: z.record(z.string().min(1), z.array(z.string().min(1))).optional(),
            })
            .strict(),
        )
        .min(1, 'bind each external issuer to at least one tenant'),
    })
    .strict(),
);

/** `npm start` (scripts/start.ts): every variable it reads, documented in README.md. */
export const PlatformEnv = z
  .object({
    SOMA_HOST: z.string().default('127.0.0.1'),
    SOMA_PORT: z.coerce.number().int().min(0).max(65535).default(4000),
    SOMA_DATA_DIR: z.string().default('.data'),
    ...databaseEnv,
    SOMA_ISSUER: z.string().min(1).optional(),
    SOMA_AUDIENCE: z.string().min(1).default('somaagent'),
    SOMA_PLATFORM_ADMIN_KEY: z.string().min(32).optional(),
    /** Seals the token-signing private keys at rest; generated into the data dir when unset. */
    SOMA_SIGNING_KEY_SECRET: z.string().min(32).optional(),
    /**
     * HMAC secret of the router's signed subgraph requests (never logged). Unset: random per start,
     * right while every subgraph runs in this process; the router and the subgraphs run as their own
     * processes (`npm run router`, `npm run subgraph -- <name>`) must be given the same value.
     */
    SOMA_ROUTER_SECRET: z.string().min(32, 'use at least 32 characters').optional(),
    SOMA_INTROSPECTION: bool.default(true),
    SOMA_ALLOWED_ORIGINS: z.string().default(''),
    /**
     * Comma-separated addresses or CIDR blocks of the reverse proxies in front of the router:
     * from them, X-Forwarded-For names the client (per-IP budgets, sign-in throttling). @default none
     */
    SOMA_TRUSTED_PROXIES: trustedProxiesEnv,
    ...metricsEnv,
    /**
     * JSON: [{ "issuer", "audience", "jwksUrl"?, "typ"?, "maxTokenLifetimeSeconds"? = 86400,
     * "tenantClaim"? = "soma_tenant", "capabilityScopePrefix"? = "soma:", "scopeCapabilities"?,
     * "subjectPrefix"?, "groupsClaim"? = "groups", "tenants": [{ "tenantId", "claimValue"?,
     * "allowedCapabilities", "roles"?, "rolesByGroup"? }] }]
     * (docs/security.md §1).
     */
    SOMA_OIDC_ISSUERS: jsonOf(OidcIssuers).default([]),
    ...llmEnv,
    ...chatModelEnv,
    /** JSON: { "<model>": { "promptUsdPerMillion": 0.1, "completionUsdPerMillion": 0.4 } } */
    SOMA_MODEL_PRICES: jsonOf(ModelPrices).optional(),
    /**
     * JSON: quotas and rate limits (docs/security.md §3), e.g. { "requestsPerMinutePerSubject": 600,
     * "maxConcurrentGenerationsPerUser": 2, "tenantOverrides": { "<tenant id>": { … } } }.
     * Unset: the documented defaults.
     */
    SOMA_RATE_LIMITS: jsonOf(RateLimits).optional(),
    /**
     * Path of a persisted-documents manifest (`{ "<sha256>": "<document>" }` or Apollo's manifest):
     * the router then runs only those operations (docs/router.md). Unset: any operation.
     */
    SOMA_PERSISTED_DOCUMENTS: z.string().min(1).optional(),
    ...redisEnv,
    ...kafkaEnv,
    ...opaEnv,
    ...s3Env,
    ...temporalEnv,
    ...embeddingsEnv,
    /**
     * How the router reaches the subgraphs in this process: `in-process` (their executors, no
     * hop) or `http` (signed HTTP and graphql-ws over loopback, as a distributed deployment).
     */
    SOMA_SUBGRAPH_TRANSPORT: z.enum(['in-process', 'http']).default('in-process'),
  })
  .superRefine((env, ctx) => {
    checkEngineEnv(env, ctx);
    if (env.SOMA_DATABASE_URL && !env.SOMA_DATABASE_OWNER_URL)
      ctx.addIssue({
        code: 'custom',
        path: ['SOMA_DATABASE_OWNER_URL'],
        message: 'required with SOMA_DATABASE_URL (migrations run as the owner of the schema)',
      });
    if (env.SOMA_TEMPORAL_ADDRESS && !env.SOMA_DATABASE_URL)
      ctx.addIssue({
        code: 'custom',
        path: ['SOMA_DATABASE_URL'],
        message:
          'required with SOMA_TEMPORAL_ADDRESS: capsule runs then execute in `npm run worker`, which must reach the same PostgreSQL server',
      });
  });
export type PlatformConfig = z.output<typeof PlatformEnv>;

/** `npm start`'s configuration from `env`, read once; a bad or missing variable exits 2, naming it. */
export const readPlatformConfig = (env: NodeJS.ProcessEnv = process.env): PlatformConfig =>
  readConfigOrExit(PlatformEnv, env, 'npm start');
