/**
 * The router as its own process, in front of subgraph processes (`npm run subgraph -- <name>`):
 *
 *   npm run router        (tsx platform/src/router.ts)
 *
 * Prints `router ready: <url>` once it listens. Configuration: config/routerConfig.ts (read once;
 * a bad or missing variable exits 2, naming it): one URL per module of the list
 * (`SOMA_SUBGRAPH_<NAME>_URL`), the shared SOMA_ROUTER_SECRET, SomaAgent's own issuer
 * (SOMA_ISSUER, keys from the identity process's JWKS) and the external ones (SOMA_OIDC_ISSUERS),
 * rate-limit counters in Redis (SOMA_REDIS_URL, shared by router replicas), policy by the OPA
 * server (SOMA_OPA_URL) or the Rego as wasm in this process, audited on Kafka
 * (SOMA_KAFKA_BROKERS) or as JSON lines on stderr.
 *
 * With SOMA_DATABASE_URL (as `soma_app`, read only) it follows the revocations the identity
 * process stores (a revoked key, a disabled user, a removed role refuse tokens already issued
 * within about a second) and resolves the tenant roles external issuers bind. Without it, revoked
 * tokens stay valid until they expire (SOMA_ACCESS_TOKEN_TTL_SECONDS, default 15 min) and
 * external issuers that bind roles are refused (docs/infrastructure.md, Distributed mode).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { claimsFromAccessTokenPayload, RevocationFeed, SqlTenantRoleDirectory } from '@somaagent/identity';
import { type AuditSink, createPolicyDecider, createWasmPolicyEvaluator } from '@somaagent/policy';
import type { EventBus } from '@somaagent/ports';
import { createRouter, withRoleDirectory } from '@somaagent/router';
import { connectKafka, connectRedis, opaPolicyEvaluator, openPostgres } from './config/engines';
import { readRouterConfig, subgraphUrlsOf } from './config/routerConfig';
import {
  commaSeparated,
  externalIssuersOf,
  persistedDocumentsOrExit,
  splitRateLimits,
} from './config/routerSettings';

const defaultSupergraphPath = resolve(import.meta.dirname, '../../schema/supergraph.graphql');

const env = readRouterConfig(process.env);
const subgraphUrls = subgraphUrlsOf(env);
const persistedDocuments = persistedDocumentsOrExit(env.SOMA_PERSISTED_DOCUMENTS);
const redisEngines = env.SOMA_REDIS_URL ? await connectRedis(env.SOMA_REDIS_URL) : undefined;
const kafka: (EventBus & AsyncDisposable) | undefined = env.SOMA_KAFKA_BROKERS
  ? await connectKafka(env.SOMA_KAFKA_BROKERS, 'somaagent-router')
  : undefined;
const audit: AuditSink = kafka ?? {
  publish: async (event) => void process.stderr.write(`${JSON.stringify(event)}\n`),
};
const policyEvaluator =
  opaPolicyEvaluator(env.SOMA_OPA_URL, env.SOMA_OPA_TIMEOUT_MS) ?? (await createWasmPolicyEvaluator());
const identityJwks = subgraphUrls.identity!.replace(/\/graphql$/, '/.well-known/jwks.json');
const db = env.SOMA_DATABASE_URL ? await openPostgres(env.SOMA_DATABASE_URL, undefined, 2) : undefined;
// Kept as long as identity keeps them: the longest token lifetime plus clock tolerance.
const revocations = db ? await RevocationFeed.start(db, env.SOMA_ACCESS_TOKEN_TTL_SECONDS + 60) : undefined;
const roleDirectory = db ? new SqlTenantRoleDirectory(db) : undefined;
const externalIssuers = externalIssuersOf(env.SOMA_OIDC_ISSUERS);

const observability =
  env.SOMA_METRICS_PORT !== undefined ? await import('@somaagent/observability') : undefined;
const metrics = observability ? new observability.PlatformMetrics() : undefined;
const redis = redisEngines?.redis;
const router = await createRouter({
  ...(metrics ? { metrics } : {}),
  readiness: {
    ...(db
      ? {
          database: () =>
            db.withScope({ tenantId: null }, (tx) => tx.query('SELECT 1')).then(() => undefined),
        }
      : {}),
    ...(redis ? { redis: async () => void (await redis.ping()) } : {}),
  },
  supergraphSdl: readFileSync(env.SOMA_SUPERGRAPH_PATH ?? defaultSupergraphPath, 'utf8'),
  subgraphUrls,
  routerSecret: env.SOMA_ROUTER_SECRET,
  issuers: [
    {
      issuer: env.SOMA_ISSUER,
      jwksUrl: identityJwks,
      audience: env.SOMA_AUDIENCE,
      toClaims: claimsFromAccessTokenPayload,
      ...(revocations ? { isRevoked: revocations.isRevoked } : {}),
    },
    ...(roleDirectory
      ? externalIssuers.map((issuer) => withRoleDirectory(issuer, roleDirectory))
      : externalIssuers),
  ],
  jwksUpstreamUrl: identityJwks,
  host: env.SOMA_HOST,
  port: env.SOMA_PORT,
  introspection: env.SOMA_INTROSPECTION,
  allowedOrigins: commaSeparated(env.SOMA_ALLOWED_ORIGINS),
  trustedProxies: commaSeparated(env.SOMA_TRUSTED_PROXIES),
  limits: splitRateLimits(env.SOMA_RATE_LIMITS).router,
  policy: {
    decider: createPolicyDecider({ evaluator: policyEvaluator, audit, failOpen: env.SOMA_POLICY_FAIL_OPEN }),
  },
  ...(redisEngines ? { rateLimiter: redisEngines.rateLimiter } : {}),
  ...(persistedDocuments ? { persistedDocuments } : {}),
});
const metricsServer =
  observability && metrics
    ? await observability.serveMetrics(metrics, { host: env.SOMA_METRICS_HOST, port: env.SOMA_METRICS_PORT! })
    : undefined;
console.log(
  `router ready: ${router.url} (subscriptions ${router.wsUrl}; pid ${process.pid}; ${Object.keys(subgraphUrls).length} subgraphs; policy ${env.SOMA_OPA_URL ? `OPA server ${env.SOMA_OPA_URL}` : 'Rego as wasm, in-process'}; rate limits ${redisEngines ? 'Redis' : 'in memory'}; revocations ${revocations ? 'followed in PostgreSQL' : 'not followed (no SOMA_DATABASE_URL)'}; metrics ${metricsServer ? metricsServer.url : 'off'})`,
);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await router.close();
  await metricsServer?.close();
  await revocations?.[Symbol.asyncDispose]();
  await db?.[Symbol.asyncDispose]();
  await kafka?.[Symbol.asyncDispose]();
  await redisEngines?.rateLimiter[Symbol.asyncDispose]();
  await redisEngines?.streams[Symbol.asyncDispose]();
  redisEngines?.redis.disconnect();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
