// `npm start`: SomaAgent in one process on embedded defaults (PGlite, in-process events).
// Set SOMA_DATABASE_URL + SOMA_DATABASE_OWNER_URL to use a PostgreSQL server instead.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import {
  type EmbeddingModel,
  OpenAICompatibleEmbeddingModel,
  UniversalSentenceEncoderWorkerEmbeddingModel,
} from '@somaagent/embeddings';
import { KafkaEventBus } from '@somaagent/kafka';
import {
  ensureTinyLlamaModel,
  LocalLlamaChatModel,
  OpenAICompatibleChatModel,
  TINY_MODEL_NAME,
} from '@somaagent/models';
import { startPlatform } from '@somaagent/platform';
import { PgliteSqlDatabase, PostgresSqlDatabase } from '@somaagent/postgres';
import { RedisNonceStore, RedisRateLimiter, RedisStreamLog } from '@somaagent/redis';
import { loadPersistedDocuments, oidcClaims, type PersistedDocuments } from '@somaagent/router';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { z } from 'zod';

const started = performance.now();
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const Env = z.object({
  SOMA_HOST: z.string().default('127.0.0.1'),
  SOMA_PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  SOMA_DATA_DIR: z.string().default('.data'),
  SOMA_DATABASE_URL: z.string().url().optional(),
  SOMA_DATABASE_OWNER_URL: z.string().url().optional(),
  SOMA_ISSUER: z.string().min(1).optional(),
  SOMA_AUDIENCE: z.string().min(1).default('somaagent'),
  SOMA_PLATFORM_ADMIN_KEY: z.string().min(32).optional(),
  /** Seals the token-signing private keys at rest; generated into the data dir when unset. */
  SOMA_SIGNING_KEY_SECRET: z.string().min(32).optional(),
  /**
   * HMAC secret of the router's signed subgraph requests (never logged). Unset: random per start,
   * right while every subgraph runs in this process; a subgraph run as its own process (e.g.
   * subgraphs/identity/src/main.ts) must be given the same value.
   */
  SOMA_ROUTER_SECRET: z.string().min(32, 'use at least 32 characters').optional(),
  SOMA_INTROSPECTION: bool.default(true),
  SOMA_ALLOWED_ORIGINS: z.string().default(''),
  /**
   * JSON: [{ "issuer", "audience", "jwksUrl"?, "typ"?, "maxTokenLifetimeSeconds"? = 86400,
   * "tenantClaim"? = "soma_tenant", "capabilityScopePrefix"? = "soma:", "scopeCapabilities"?,
   * "subjectPrefix"?, "tenants": [{ "tenantId", "claimValue"?, "allowedCapabilities", "roles"? }] }]
   * (docs/security.md §1).
   */
  SOMA_OIDC_ISSUERS: z.string().default('[]'),
  /** Any OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1 (personas use it). */
  SOMA_LLM_BASE_URL: z.string().url().optional(),
  SOMA_LLM_API_KEY: z.string().default('not-needed'),
  /** Default model name on that server for capsule model-call steps that name none. */
  SOMA_LLM_MODEL: z.string().min(1).optional(),
  /**
   * Streams on the wire to that server at once; more wait in this process, in order. Match it
   * to the server's slots (llama-server --parallel) with some headroom.
   */
  SOMA_LLM_MAX_CONCURRENT_STREAMS: z.coerce.number().int().min(1).max(10_000).default(16),
  /**
   * The LOCAL provider's GGUF (llama.cpp in this process). Unset: soma-tiny, generated into
   * <data dir>/models on first use — untrained, its text is meaningless.
   */
  SOMA_LOCAL_MODEL_PATH: z.string().min(1).optional(),
  /** The name personas use for that model. @default soma-tiny, or the GGUF's file name */
  SOMA_LOCAL_MODEL_NAME: z.string().min(1).optional(),
  /** CPU threads for the LOCAL engine: 1 suits soma-tiny; raise it for a real model. */
  SOMA_LOCAL_THREADS: z.coerce.number().int().min(1).max(256).default(1),
  /** JSON: { "<model>": { "promptUsdPerMillion": 0.1, "completionUsdPerMillion": 0.4 } } */
  SOMA_MODEL_PRICES: z.string().optional(),
  /**
   * JSON: quotas and rate limits (docs/security.md §3), e.g. { "requestsPerMinutePerSubject": 600,
   * "maxConcurrentGenerationsPerUser": 2, "tenantOverrides": { "<tenant id>": { … } } }.
   * Unset: the documented defaults.
   */
  SOMA_RATE_LIMITS: z.string().optional(),
  /**
   * Path of a persisted-documents manifest (`{ "<sha256>": "<document>" }` or Apollo's manifest):
   * the router then runs only those operations (docs/router.md). Unset: any operation.
   */
  SOMA_PERSISTED_DOCUMENTS: z.string().min(1).optional(),
  /** Distributed mode: session event streams in Redis (replayable from any replica). */
  SOMA_REDIS_URL: z.string().url().optional(),
  /** Distributed mode: platform events on Kafka, comma-separated host:port list. */
  SOMA_KAFKA_BROKERS: z.string().optional(),
  /**
   * Memory embeddings from an OpenAI-compatible `/v1/embeddings` server, e.g.
   * http://127.0.0.1:8081/v1. Unset: Universal Sentence Encoder lite in a worker thread.
   */
  SOMA_EMBEDDINGS_BASE_URL: z.string().url().optional(),
  /** Required with SOMA_EMBEDDINGS_BASE_URL: the model name sent and recorded with vectors. */
  SOMA_EMBEDDINGS_MODEL: z.string().min(1).optional(),
  /** Required with SOMA_EMBEDDINGS_BASE_URL: the width of that model's vectors (checked). */
  SOMA_EMBEDDINGS_DIMENSION: z.coerce.number().int().min(1).max(16_000).optional(),
  SOMA_EMBEDDINGS_API_KEY: z.string().min(1).optional(),
  /**
   * How the router reaches the subgraphs in this process: `in-process` (their executors, no
   * hop) or `http` (signed HTTP and graphql-ws over loopback, as a distributed deployment).
   */
  SOMA_SUBGRAPH_TRANSPORT: z.enum(['in-process', 'http']).default('in-process'),
});
const ModelPrices = z.record(
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
const RateLimits = TenantRateLimits.extend({
  requestsPerMinutePerIp: count.optional(),
  tenantOverrides: z.record(z.string(), TenantRateLimits).optional(),
  ...GenerationQuota.shape,
  generationTenantOverrides: z.record(z.string(), GenerationQuota).optional(),
}).strict();
const OidcIssuers = z.array(
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
      tenants: z
        .array(
          z
            .object({
              tenantId: z.string().uuid(),
              claimValue: z.string().min(1).max(255).optional(),
              allowedCapabilities: z.array(z.string().min(1)),
              roles: z.array(z.string().min(1)).optional(),
            })
            .strict(),
        )
        .min(1, 'bind each external issuer to at least one tenant'),
    })
    .strict(),
);

const parsed = Env.safeParse(process.env);
if (!parsed.success) {
  console.error('Invalid configuration:');
  for (const issue of parsed.error.issues) console.error(`  ${issue.path.join('.')}: ${issue.message}`);
  process.exit(2);
}
const env = parsed.data;
if (env.SOMA_EMBEDDINGS_BASE_URL && (!env.SOMA_EMBEDDINGS_MODEL || !env.SOMA_EMBEDDINGS_DIMENSION)) {
  console.error(
    'Invalid configuration: SOMA_EMBEDDINGS_BASE_URL needs SOMA_EMBEDDINGS_MODEL and SOMA_EMBEDDINGS_DIMENSION (the model name and the width of its vectors, e.g. 384 for all-MiniLM-L6-v2).',
  );
  process.exit(2);
}
const dataDir = resolve(env.SOMA_DATA_DIR);
mkdirSync(dataDir, { recursive: true });

// The bootstrap key is generated once and kept (0600) in the data dir, so restarts keep it.
const keyFile = join(dataDir, 'platform-admin-key');
let platformAdminKey = env.SOMA_PLATFORM_ADMIN_KEY;
let keyIsNew = false;
if (!platformAdminKey) {
  if (existsSync(keyFile)) platformAdminKey = readFileSync(keyFile, 'utf8').trim();
  else {
    platformAdminKey = `sk_platform_${randomBytes(32).toString('base64url')}`;
    writeFileSync(keyFile, `${platformAdminKey}\n`, { mode: 0o600 });
    keyIsNew = true;
  }
}

const secretFile = join(dataDir, 'signing-key-secret');
let signingKeySecret = env.SOMA_SIGNING_KEY_SECRET;
if (!signingKeySecret) {
  if (existsSync(secretFile)) signingKeySecret = readFileSync(secretFile, 'utf8').trim();
  else {
    signingKeySecret = randomBytes(32).toString('base64url');
    writeFileSync(secretFile, `${signingKeySecret}\n`, { mode: 0o600 });
  }
}

let db: PgliteSqlDatabase | PostgresSqlDatabase;
if (env.SOMA_DATABASE_URL) {
  if (!env.SOMA_DATABASE_OWNER_URL) {
    console.error(
      'SOMA_DATABASE_OWNER_URL is required with SOMA_DATABASE_URL (migrations run as the owner).',
    );
    process.exit(2);
  }
  db = new PostgresSqlDatabase({
    appPool: new pg.Pool({ connectionString: env.SOMA_DATABASE_URL }),
    ownerPool: new pg.Pool({ connectionString: env.SOMA_DATABASE_OWNER_URL, max: 2 }),
  });
} else {
  db = await PgliteSqlDatabase.open(join(dataDir, 'pglite'));
}

const parseJsonEnv = <T>(name: string, raw: string, schema: z.ZodType<T>): T => {
  try {
    return schema.parse(JSON.parse(raw));
  } catch (error) {
    console.error(`Invalid configuration: ${name} is not valid: ${(error as Error).message}`);
    process.exit(2);
  }
};
const redis = env.SOMA_REDIS_URL ? new Redis(env.SOMA_REDIS_URL, { maxRetriesPerRequest: 3 }) : undefined;
const streams = redis ? new RedisStreamLog(redis) : undefined;
// With Redis, quotas and spent router nonces are shared by every replica that uses it.
const rateLimiter = redis ? new RedisRateLimiter(redis) : undefined;
const nonces = redis ? new RedisNonceStore(redis) : undefined;
let persistedDocuments: PersistedDocuments | undefined;
if (env.SOMA_PERSISTED_DOCUMENTS) {
  try {
    persistedDocuments = loadPersistedDocuments(resolve(env.SOMA_PERSISTED_DOCUMENTS));
  } catch (error) {
    console.error(`Invalid configuration: SOMA_PERSISTED_DOCUMENTS: ${(error as Error).message}`);
    process.exit(2);
  }
}
const events = env.SOMA_KAFKA_BROKERS
  ? new KafkaEventBus(
      new Kafka({
        clientId: 'somaagent',
        brokers: env.SOMA_KAFKA_BROKERS.split(','),
        logLevel: logLevel.WARN,
      }),
    )
  : undefined;
const oidcIssuers = parseJsonEnv('SOMA_OIDC_ISSUERS', env.SOMA_OIDC_ISSUERS, OidcIssuers);
// The router's part goes to `limits`, the concurrent-generation quota to the sessions subgraph.
const {
  maxConcurrentGenerationsPerUser,
  maxConcurrentGenerationsPerTenant,
  generationTenantOverrides,
  ...routerRateLimits
} = env.SOMA_RATE_LIMITS ? parseJsonEnv('SOMA_RATE_LIMITS', env.SOMA_RATE_LIMITS, RateLimits) : {};
const generationQuota = Object.fromEntries(
  Object.entries({
    maxConcurrentGenerationsPerUser,
    maxConcurrentGenerationsPerTenant,
    generationTenantOverrides,
  }).filter(([, value]) => value !== undefined),
);
const prices = env.SOMA_MODEL_PRICES
  ? parseJsonEnv('SOMA_MODEL_PRICES', env.SOMA_MODEL_PRICES, ModelPrices)
  : undefined;
// Loaded on the first answer, not here: `npm start` stays fast and pays nothing until used.
const localModelPath = env.SOMA_LOCAL_MODEL_PATH ? resolve(env.SOMA_LOCAL_MODEL_PATH) : undefined;
const localModelName =
  env.SOMA_LOCAL_MODEL_NAME ??
  (localModelPath ? basename(localModelPath).replace(/\.gguf$/i, '') : TINY_MODEL_NAME);
const remote = env.SOMA_LLM_BASE_URL
  ? OpenAICompatibleChatModel.fromUrl(env.SOMA_LLM_BASE_URL, env.SOMA_LLM_API_KEY, {
      maxConcurrentStreams: env.SOMA_LLM_MAX_CONCURRENT_STREAMS,
    })
  : undefined;
const local = new LocalLlamaChatModel({
  modelName: localModelName,
  modelPath: localModelPath ?? (() => ensureTinyLlamaModel(join(dataDir, 'models'))),
  threads: env.SOMA_LOCAL_THREADS,
});
// Memory's embeddings: a remote OpenAI-compatible server when configured, else the embedded model
// in a worker thread. Each collection records the model and dimension of its first write, so a
// switch later is refused (CONFLICT) for existing collections rather than mixing vectors.
const embedder: EmbeddingModel = env.SOMA_EMBEDDINGS_BASE_URL
  ? new OpenAICompatibleEmbeddingModel({
      baseUrl: env.SOMA_EMBEDDINGS_BASE_URL,
      model: env.SOMA_EMBEDDINGS_MODEL!,
      dimension: env.SOMA_EMBEDDINGS_DIMENSION!,
      ...(env.SOMA_EMBEDDINGS_API_KEY ? { apiKey: env.SOMA_EMBEDDINGS_API_KEY } : {}),
    })
  : new UniversalSentenceEncoderWorkerEmbeddingModel();
const platform = await startPlatform({
  embedder,
  db,
  ...(streams ? { streams } : {}),
  ...(events ? { events } : {}),
  ...(rateLimiter ? { rateLimiter } : {}),
  ...(nonces ? { nonces } : {}),
  ...(persistedDocuments ? { persistedDocuments } : {}),
  host: env.SOMA_HOST,
  port: env.SOMA_PORT,
  issuer: env.SOMA_ISSUER ?? `http://${env.SOMA_HOST}:${env.SOMA_PORT}`,
  audience: env.SOMA_AUDIENCE,
  routerSecret: env.SOMA_ROUTER_SECRET ?? randomBytes(32).toString('base64url'),
  platformAdminKey,
  signingKeySecret,
  introspection: env.SOMA_INTROSPECTION,
  subgraphTransport: env.SOMA_SUBGRAPH_TRANSPORT,
  allowedOrigins: env.SOMA_ALLOWED_ORIGINS.split(',')
    .map((o) => o.trim())
    .filter(Boolean),
  models: { LOCAL: local, ...(remote ? { OPENAI_COMPATIBLE: remote } : {}) },
  artifactsDir: join(dataDir, 'artifacts'),
  // Capsule model-call steps use the same engine personas default to.
  capsuleModel: remote
    ? { model: remote, defaultModel: env.SOMA_LLM_MODEL ?? localModelName }
    : { model: local, defaultModel: localModelName },
  ...(prices ? { prices } : {}),
  limits: routerRateLimits,
  sessionsLimits: generationQuota,
  externalIssuers: oidcIssuers.map(
    ({ issuer, audience, jwksUrl, typ, maxTokenLifetimeSeconds, ...mapping }) => ({
      issuer,
      audience,
      ...(jwksUrl ? { jwksUrl } : {}),
      ...(typ ? { typ } : {}),
      ...(maxTokenLifetimeSeconds ? { maxTokenLifetimeSeconds } : {}),
      toClaims: oidcClaims(mapping),
    }),
  ),
});

// One write: whoever waits for a line of the banner (a supervisor, the tests) sees all of it.
console.log(
  [
    `SomaAgent ready in ${Math.round(performance.now() - started)} ms (${db.kind} database, ${events?.kind ?? 'in-process'} events, ${streams?.kind ?? 'in-memory'} session streams)`,
    `  GraphQL endpoint: ${platform.url}   (GraphiQL in a browser; subscriptions: ${platform.wsUrl})`,
    `  Models:           LOCAL ${localModelName} (llama.cpp in-process, ${localModelPath ?? 'untrained test model, generated on first use'})${env.SOMA_LLM_BASE_URL ? `; OPENAI_COMPATIBLE ${env.SOMA_LLM_BASE_URL}` : ' (SOMA_LLM_BASE_URL adds an OpenAI-compatible server)'}`,
    `  Embeddings:       ${embedder.model} (${embedder.dimension}-d, ${env.SOMA_EMBEDDINGS_BASE_URL ? env.SOMA_EMBEDDINGS_BASE_URL : 'in-process worker thread; SOMA_EMBEDDINGS_BASE_URL selects an OpenAI-compatible server'})`,
    `  JWKS:             ${platform.url.replace(/\/graphql$/, '/.well-known/jwks.json')}`,
    keyIsNew
      ? `  Platform admin key (shown once, also saved to ${keyFile}):\n    ${platformAdminKey}`
      : `  Platform admin key: in ${keyFile}`,
  ].join('\n'),
);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping`);
  await platform.close();
  await local[Symbol.asyncDispose]();
  await embedder[Symbol.asyncDispose]();
  await db[Symbol.asyncDispose]();
  await streams?.[Symbol.asyncDispose]();
  await events?.[Symbol.asyncDispose]();
  await rateLimiter?.[Symbol.asyncDispose]();
  redis?.disconnect();
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
