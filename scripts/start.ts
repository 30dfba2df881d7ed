// `npm start`: SomaAgent in one process on embedded defaults (PGlite, in-process events, wasm
// policy, the journal workflow engine, artifacts on disk). Each engine is selected by its
// environment variables (README.md, Configuration; schema: platform/src/config/platformConfig.ts);
// a vendor SDK is loaded only when its engine is selected.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  commaSeparated,
  connectKafka,
  connectRedis,
  connectTemporal,
  externalIssuersOf,
  opaPolicyEvaluator,
  openChatModels,
  openEmbedder,
  openObjectStorage,
  openPostgres,
  persistedDocumentsOrExit,
  readPlatformConfig,
  splitRateLimits,
  startPlatform,
} from '@somaagent/platform';
import { PgliteSqlDatabase } from '@somaagent/postgres';

const started = performance.now();
const env = readPlatformConfig(process.env);
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

const db = env.SOMA_DATABASE_URL
  ? await openPostgres(env.SOMA_DATABASE_URL, env.SOMA_DATABASE_OWNER_URL)
  : await PgliteSqlDatabase.open(join(dataDir, 'pglite'));

// With Redis, session streams, quotas and spent router nonces are shared by every replica that uses it.
const redisEngines = env.SOMA_REDIS_URL ? await connectRedis(env.SOMA_REDIS_URL) : undefined;
const redis = redisEngines?.redis;
const streams = redisEngines?.streams;
const rateLimiter = redisEngines?.rateLimiter;
const nonces = redisEngines?.nonces;
const persistedDocuments = persistedDocumentsOrExit(env.SOMA_PERSISTED_DOCUMENTS);
const events = env.SOMA_KAFKA_BROKERS ? await connectKafka(env.SOMA_KAFKA_BROKERS, 'somaagent') : undefined;
const policy = opaPolicyEvaluator(env.SOMA_OPA_URL, env.SOMA_OPA_TIMEOUT_MS);
const artifactsDir = join(dataDir, 'artifacts');
const objectStorage = await openObjectStorage(env, artifactsDir);
// With Temporal, this process starts and follows capsule runs; `npm run worker` executes them.
const temporal = env.SOMA_TEMPORAL_ADDRESS
  ? await connectTemporal(
      env.SOMA_TEMPORAL_ADDRESS,
      env.SOMA_TEMPORAL_NAMESPACE,
      env.SOMA_TEMPORAL_TASK_QUEUE,
    )
  : undefined;
// The router's part goes to `limits`, the concurrent-generation quota to the sessions subgraph.
const rateLimits = splitRateLimits(env.SOMA_RATE_LIMITS);
const prices = env.SOMA_MODEL_PRICES;
// LOCAL is loaded on the first answer, not here: `npm start` stays fast and pays nothing until used.
const chat = openChatModels(env, dataDir);
const { local, localModelName, localModelPath } = chat;
// Each collection records the model and dimension of its first write, so a switch later is
// refused (CONFLICT) for existing collections rather than mixing vectors.
const embedder = openEmbedder(env);
// Loaded only when metrics are on: prom-client and its default collectors cost the rest nothing.
const observability =
  env.SOMA_METRICS_PORT !== undefined ? await import('@somaagent/observability') : undefined;
const metrics = observability ? new observability.PlatformMetrics() : undefined;
const platform = await startPlatform({
  ...(metrics ? { metrics } : {}),
  readiness: {
    ...(redis ? { redis: async () => void (await redis.ping()) } : {}),
  },
  embedder,
  db,
  ...(streams ? { streams } : {}),
  ...(events ? { events } : {}),
  ...(rateLimiter ? { rateLimiter } : {}),
  ...(nonces ? { nonces } : {}),
  ...(redisEngines ? { signInThrottle: { store: redisEngines.signInAttempts } } : {}),
  ...(persistedDocuments ? { persistedDocuments } : {}),
  ...(policy ? { policy } : {}),
  ...(temporal ? { workflowEngine: temporal.engine } : {}),
  objectStorage,
  host: env.SOMA_HOST,
  port: env.SOMA_PORT,
  issuer: env.SOMA_ISSUER ?? `http://${env.SOMA_HOST}:${env.SOMA_PORT}`,
  audience: env.SOMA_AUDIENCE,
  routerSecret: env.SOMA_ROUTER_SECRET ?? randomBytes(32).toString('base64url'),
  platformAdminKey,
  signingKeySecret,
  introspection: env.SOMA_INTROSPECTION,
  subgraphTransport: env.SOMA_SUBGRAPH_TRANSPORT,
  allowedOrigins: commaSeparated(env.SOMA_ALLOWED_ORIGINS),
  trustedProxies: commaSeparated(env.SOMA_TRUSTED_PROXIES),
  models: chat.models,
  artifactsDir,
  // Capsule model-call steps use the same engine personas default to.
  capsuleModel: chat.capsuleModel,
  ...(prices ? { prices } : {}),
  limits: rateLimits.router,
  sessionsLimits: rateLimits.generations,
  externalIssuers: externalIssuersOf(env.SOMA_OIDC_ISSUERS),
});

const metricsServer =
  observability && metrics
    ? await observability.serveMetrics(metrics, { host: env.SOMA_METRICS_HOST, port: env.SOMA_METRICS_PORT! })
    : undefined;

// One write: whoever waits for a line of the banner (a supervisor, the tests) sees all of it.
console.log(
  [
    `SomaAgent ready in ${Math.round(performance.now() - started)} ms (${db.kind} database, ${events?.kind ?? 'in-process'} events, ${streams?.kind ?? 'in-memory'} session streams)`,
    `  GraphQL endpoint: ${platform.url}   (GraphiQL in a browser; subscriptions: ${platform.wsUrl})`,
    `  Models:           LOCAL ${localModelName} (llama.cpp in-process, ${localModelPath ?? 'untrained test model, generated on first use'})${env.SOMA_LLM_BASE_URL ? `; OPENAI_COMPATIBLE ${env.SOMA_LLM_BASE_URL}` : ' (SOMA_LLM_BASE_URL adds an OpenAI-compatible server)'}`,
    `  Embeddings:       ${embedder.model} (${embedder.dimension}-d, ${env.SOMA_EMBEDDINGS_BASE_URL ? env.SOMA_EMBEDDINGS_BASE_URL : 'in-process worker thread; SOMA_EMBEDDINGS_BASE_URL selects an OpenAI-compatible server'})`,
    `  Engines:          policy ${policy ? `OPA server ${env.SOMA_OPA_URL}` : 'Rego as wasm, in-process (SOMA_OPA_URL selects an OPA server)'}; capsule runs ${temporal ? `Temporal ${env.SOMA_TEMPORAL_ADDRESS} namespace ${env.SOMA_TEMPORAL_NAMESPACE} task queue ${env.SOMA_TEMPORAL_TASK_QUEUE} (executed by npm run worker)` : 'journal engine, in-process (SOMA_TEMPORAL_ADDRESS selects Temporal)'}; artifacts ${objectStorage.describe}; rate limits and nonces ${redis ? 'Redis' : 'in memory'}`,
    `  JWKS:             ${platform.url.replace(/\/graphql$/, '/.well-known/jwks.json')}`,
    `  Health:           ${platform.url.replace(/\/graphql$/, '/healthz')} (liveness), ${platform.url.replace(/\/graphql$/, '/readyz')} (readiness)`,
    `  Metrics:          ${metricsServer ? metricsServer.url : 'off (SOMA_METRICS_PORT serves Prometheus metrics)'}`,
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
  await metricsServer?.close();
  await local[Symbol.asyncDispose]();
  await embedder[Symbol.asyncDispose]();
  await db[Symbol.asyncDispose]();
  await streams?.[Symbol.asyncDispose]();
  await events?.[Symbol.asyncDispose]();
  await objectStorage[Symbol.asyncDispose]();
  await temporal?.close();
  await rateLimiter?.[Symbol.asyncDispose]();
  redis?.disconnect();
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
