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
 * What this process cannot do that `npm start` does (docs/infrastructure.md, Distributed mode):
 * it holds no identity instance, so tokens whose key was revoked or whose user was disabled stay
 * valid until they expire (SOMA_ACCESS_TOKEN_TTL_SECONDS, default 15 min), and external issuers
 * that bind roles are refused (no role directory).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { claimsFromAccessTokenPayload } from '@somaagent/identity';
import { type AuditSink, createPolicyDecider, createWasmPolicyEvaluator } from '@somaagent/policy';
import type { EventBus } from '@somaagent/ports';
import { createRouter } from '@somaagent/router';
import { connectKafka, connectRedis, opaPolicyEvaluator } from './config/engines';
import { readRouterConfig, subgraphUrlsOf } from './config/routerConfig';
import {
  allowedOriginsOf,
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

const router = await createRouter({
  supergraphSdl: readFileSync(env.SOMA_SUPERGRAPH_PATH ?? defaultSupergraphPath, 'utf8'),
  subgraphUrls,
  routerSecret: env.SOMA_ROUTER_SECRET,
  issuers: [
    {
      issuer: env.SOMA_ISSUER,
      jwksUrl: identityJwks,
      audience: env.SOMA_AUDIENCE,
      toClaims: claimsFromAccessTokenPayload,
    },
    ...externalIssuersOf(env.SOMA_OIDC_ISSUERS),
  ],
  jwksUpstreamUrl: identityJwks,
  host: env.SOMA_HOST,
  port: env.SOMA_PORT,
  introspection: env.SOMA_INTROSPECTION,
  allowedOrigins: allowedOriginsOf(env.SOMA_ALLOWED_ORIGINS),
  limits: splitRateLimits(env.SOMA_RATE_LIMITS).router,
  policy: {
    decider: createPolicyDecider({ evaluator: policyEvaluator, audit, failOpen: env.SOMA_POLICY_FAIL_OPEN }),
  },
  ...(redisEngines ? { rateLimiter: redisEngines.rateLimiter } : {}),
  ...(persistedDocuments ? { persistedDocuments } : {}),
});
console.log(
  `router ready: ${router.url} (subscriptions ${router.wsUrl}; pid ${process.pid}; ${Object.keys(subgraphUrls).length} subgraphs; policy ${env.SOMA_OPA_URL ? `OPA server ${env.SOMA_OPA_URL}` : 'Rego as wasm, in-process'}; rate limits ${redisEngines ? 'Redis' : 'in memory'})`,
);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await router.close();
  await kafka?.[Symbol.asyncDispose]();
  await redisEngines?.rateLimiter[Symbol.asyncDispose]();
  await redisEngines?.streams[Symbol.asyncDispose]();
  redisEngines?.redis.disconnect();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
