/**
 * Any subgraph of the module list (platform/src/modules.ts) as its own process, behind the
 * standalone router (platform/src/router.ts):
 *
 *   npm run subgraph -- <name>        (tsx platform/src/subgraph.ts <name>)
 *
 * Prints `subgraph <name> ready: <url>` once it listens. Configuration: config/subgraphConfig.ts
 * (read once; a bad or missing variable exits 2, naming it). Every engine is selected by env as
 * for `npm start`: PostgreSQL (required: the processes share one database), Redis (session and
 * run streams, nonces, generation slots), Kafka (events), OPA, S3/MinIO, Temporal, embeddings,
 * models. A module that `needs` a cross-domain port gets it from the modules of the list that
 * provide it, created here over the same database and not served (as the worker does): the
 * sessions process recalls memory through an in-process memory module, never through the memory
 * process. With SOMA_DATABASE_OWNER_URL set the process applies the migrations of the modules it
 * creates (concurrent processes serialize on the migration lock).
 */
import { join, resolve } from 'node:path';
import { InMemoryStreamLog, InProcessEventBus } from '@somaagent/events';
import { createPolicyDecider, createWasmPolicyEvaluator } from '@somaagent/policy';
import type { CrossDomainPorts, EmbeddingModel, EventBus, WorkflowEngine } from '@somaagent/ports';
import { type ModuleRuntime, serveSubgraph } from '@somaagent/subgraph-server';
import { capsuleRunWorkflow } from '@somaagent/workers';
import { JournalWorkflowEngine, workflowsMigrations } from '@somaagent/workflows';
import { bridges } from './bridges/index';
import {
  connectKafka,
  connectRedis,
  connectTemporal,
  opaPolicyEvaluator,
  openObjectStorage,
  openPostgres,
} from './config/engines';
import { type ChatModels, openChatModels, openEmbedder } from './config/models';
import { splitRateLimits } from './config/routerSettings';
import { readSubgraphConfig } from './config/subgraphConfig';
import { createCapsuleRunActivities } from './createCapsuleRunActivities';
import { createModules, disposeModules, modulesServing } from './createModules';
import { platformModules } from './modules';

const name = process.argv[2];
const module = platformModules.find((m) => m.name === name);
if (!module) {
  console.error(
    `usage: npm run subgraph -- <name>, one of: ${platformModules.map((m) => m.name).join(', ')}${name ? ` (not "${name}")` : ''}`,
  );
  process.exit(2);
}
const env = readSubgraphConfig(module.name, process.env);
const dataDir = resolve(env.SOMA_DATA_DIR);
const modules = modulesServing(platformModules, module);

const db = await openPostgres(env.SOMA_DATABASE_URL, env.SOMA_DATABASE_OWNER_URL);
if (env.SOMA_DATABASE_OWNER_URL) await db.migrate(modules.flatMap((m) => m.migrations));
const redisEngines = env.SOMA_REDIS_URL ? await connectRedis(env.SOMA_REDIS_URL) : undefined;
const events: EventBus & AsyncDisposable = env.SOMA_KAFKA_BROKERS
  ? await connectKafka(env.SOMA_KAFKA_BROKERS, `somaagent-${module.name}`)
  : new InProcessEventBus();
// Without Redis a stream is seen only by this process: right for sessions (generation and
// subscription both run here), not for capsule runs executed by a separate worker.
const streams = redisEngines?.streams ?? new InMemoryStreamLog();
const objectStorage = await openObjectStorage(env, join(dataDir, 'artifacts'));
const policyEvaluator =
  opaPolicyEvaluator(env.SOMA_OPA_URL, env.SOMA_OPA_TIMEOUT_MS) ?? (await createWasmPolicyEvaluator());
const policy = createPolicyDecider({
  evaluator: policyEvaluator,
  audit: events,
  failOpen: env.SOMA_POLICY_FAIL_OPEN,
});
// Built for the modules that use them (sessions; capsule model-call steps on the journal engine).
let chat: ChatModels | undefined;
const chatModels = () => {
  chat ??= openChatModels(env, dataDir);
  return chat;
};
const temporal = env.SOMA_TEMPORAL_ADDRESS
  ? await connectTemporal(
      env.SOMA_TEMPORAL_ADDRESS,
      env.SOMA_TEMPORAL_NAMESPACE,
      env.SOMA_TEMPORAL_TASK_QUEUE,
    )
  : undefined;

let embedder: (EmbeddingModel & AsyncDisposable) | undefined;
let engine: WorkflowEngine | undefined;
const ports: Partial<CrossDomainPorts> = {};
const runtime: ModuleRuntime = {
  db,
  events,
  streams,
  objectStorage,
  policyEvaluator,
  policy,
  // Built for the modules that read it (memory, here or as a provider): identity's process
  // never starts an embedding worker.
  get embedder() {
    embedder ??= openEmbedder(env);
    return embedder;
  },
  knownCapabilities: platformModules.flatMap((m) => m.capabilities),
  async workflowEngine() {
    if (temporal) return temporal.engine;
    // No Temporal: the journal engine on the shared database, its worker in this process.
    if (!engine) {
      if (env.SOMA_DATABASE_OWNER_URL) await db.migrate(workflowsMigrations);
      engine = new JournalWorkflowEngine(db, {
        workflows: { capsuleRun: capsuleRunWorkflow },
        activities: createCapsuleRunActivities(runtime, ports, chatModels().capsuleModel),
      }).startWorker();
    }
    return engine;
  },
};

const { generations } = splitRateLimits(env.SOMA_RATE_LIMITS);
const created = await createModules({
  modules,
  runtime,
  configs: {
    identity: {
      issuer: env.SOMA_ISSUER,
      audience: env.SOMA_AUDIENCE,
      accessTokenTtlSeconds: env.SOMA_ACCESS_TOKEN_TTL_SECONDS,
      ...(env.SOMA_PLATFORM_ADMIN_KEY ? { platformAdminKey: env.SOMA_PLATFORM_ADMIN_KEY } : {}),
      signingKeySecret: env.SOMA_SIGNING_KEY_SECRET,
      // Failed sign-ins counted by every identity replica together.
      ...(redisEngines ? { signInThrottle: { store: redisEngines.signInAttempts } } : {}),
    },
    // A getter: read only when this process creates the sessions module.
    get sessions() {
      return {
        models: chatModels().models,
        ...(env.SOMA_MODEL_PRICES ? { prices: env.SOMA_MODEL_PRICES } : {}),
        limits: generations,
        ...(redisEngines ? { rateLimiter: redisEngines.rateLimiter } : {}),
      };
    },
  },
  bridges,
  ports,
});
// Built now, not on the first run request: a journal worker resumes unfinished runs at start.
if (created.some((c) => c.module.name === 'capsules')) await runtime.workflowEngine();
const instance = created.find((c) => c.module === module)!.instance;
const server = await serveSubgraph({
  name: instance.name,
  schema: instance.schema,
  routerSecret: env.SOMA_ROUTER_SECRET,
  // The client IP the router forwarded reaches identity's per-IP sign-in throttling.
  createContext: (claims, request) =>
    (instance.createContext as (...args: unknown[]) => object | Promise<object>)(claims, request),
  ...(instance.getRoutes ? { getRoutes: instance.getRoutes } : {}),
  host: env.SOMA_SUBGRAPH_HOST,
  port: env.SOMA_SUBGRAPH_PORT,
  ...(redisEngines ? { nonces: redisEngines.nonces } : {}),
});
// The process's own series (memory, event loop, GC) so every process of a deployment is scraped
// and alerted on alike; prom-client is loaded only when asked for.
const metricsServer =
  env.SOMA_METRICS_PORT !== undefined
    ? await import('@somaagent/observability').then(({ PlatformMetrics, serveMetrics }) =>
        serveMetrics(new PlatformMetrics(), { host: env.SOMA_METRICS_HOST, port: env.SOMA_METRICS_PORT! }),
      )
    : undefined;
const providers = created.filter((c) => c.module !== module).map((c) => c.module.name);
console.log(
  `subgraph ${module.name} ready: ${server.url} (pid ${process.pid}; events ${events.kind}, streams ${streams.kind}, nonces ${redisEngines ? 'Redis' : 'in memory'}${providers.length ? `; in-process providers: ${providers.join(', ')}` : ''}; metrics ${metricsServer ? metricsServer.url : 'off'})`,
);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.close();
  await metricsServer?.close();
  if (engine) await engine[Symbol.asyncDispose]();
  await disposeModules(created);
  await temporal?.close();
  await chat?.[Symbol.asyncDispose]();
  await embedder?.[Symbol.asyncDispose]();
  await objectStorage[Symbol.asyncDispose]();
  await events[Symbol.asyncDispose]();
  await streams[Symbol.asyncDispose]();
  await redisEngines?.rateLimiter[Symbol.asyncDispose]();
  redisEngines?.redis.disconnect();
  await db[Symbol.asyncDispose]();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
