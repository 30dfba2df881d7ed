/**
 * The capsule-run worker process: `npm run worker` (`tsx platform/src/worker.ts`). Executes capsule runs on the
 * engine chosen by SOMA_WORKER_ENGINE and prints `worker ready` once it polls. Its activities are
 * wired as the embedded platform wires them (createCapsuleRunActivities): memory-recall steps
 * reach the memory domain through the `capsuleRecall` bridge (the modules of the list that
 * provide the activities' ports are created here, not served), model-call steps the model below.
 *
 * - `journal`: the embedded engine on the PostgreSQL server at SOMA_DATABASE_URL (resumes every
 *   unfinished run it finds, replaying its journal).
 * - `temporal`: a Temporal Worker on SOMA_TEMPORAL_ADDRESS / SOMA_TEMPORAL_NAMESPACE /
 *   SOMA_TEMPORAL_TASK_QUEUE; SOMA_TEMPORAL_WORKFLOW_BUNDLE names a prebuilt workflow bundle
 *   (`bundleWorkflowCode`), otherwise workers/src/workflows.ts is bundled at start-up (tens of
 *   seconds).
 *
 * Artifacts go to the S3 server at SOMA_S3_ENDPOINT (bucket SOMA_S3_BUCKET) when set, else to
 * the folder SOMA_ARTIFACTS_DIR (SOMA_S3_BUCKET, SOMA_S3_ACCESS_KEY_ID, SOMA_S3_SECRET_ACCESS_KEY,
 * SOMA_S3_REGION as for `npm start`). Steps are gated by policy (docs/capsules.md): the OPA server at
 * SOMA_OPA_URL when set, else the committed Rego compiled to wasm, in this process. Every
 * decision is audited on Kafka (SOMA_KAFKA_BROKERS, topic agent.audit) when set, else as one JSON
 * line per decision on stderr. Model-call steps ask the OpenAI-compatible server at
 * SOMA_LLM_BASE_URL (model SOMA_LLM_MODEL unless the step names one); memory is embedded with
 * the model of SOMA_EMBEDDINGS_* (as `npm start` reads them), else Universal Sentence Encoder
 * lite in a worker thread, which must match what the platform stored. Run events are also
 * appended to Redis (SOMA_REDIS_URL) when set, so subscriptions elsewhere follow them live.
 * The crash tests SIGKILL this process mid-run. The variables are read once
 * (config/workerConfig.ts); a bad or missing one exits 2, naming it. Vendor SDKs load only
 * when their engine is selected.
 */
import { readFileSync } from 'node:fs';
import {
  OpenAICompatibleEmbeddingModel,
  UniversalSentenceEncoderWorkerEmbeddingModel,
} from '@somaagent/embeddings';
import { InMemoryStreamLog, InProcessEventBus } from '@somaagent/events';
import { OpenAICompatibleChatModel } from '@somaagent/models';
import { type AuditSink, createPolicyDecider, createWasmPolicyEvaluator } from '@somaagent/policy';
import type { CrossDomainPortName, CrossDomainPorts, EventBus, StreamLog } from '@somaagent/ports';
import type { ModuleRuntime } from '@somaagent/subgraph-server';
import { capsuleRunWorkflow, WORKFLOWS_PATH } from '@somaagent/workers';
import { JournalWorkflowEngine } from '@somaagent/workflows';
import { bridges } from './bridges/index';
import {
  connectKafka,
  connectRedis,
  opaPolicyEvaluator,
  openObjectStorage,
  openPostgres,
} from './config/engines';
import { readWorkerConfig } from './config/workerConfig';
import { type CapsuleModel, createCapsuleRunActivities } from './createCapsuleRunActivities';
import { createModules, disposeModules } from './createModules';
import { platformModules } from './modules';

const env = readWorkerConfig(process.env);

// Migrations are applied by whoever starts the platform; the worker only reads and writes as soma_app.
const db = await openPostgres(env.SOMA_DATABASE_URL, undefined, 4);
const objectStorage = await openObjectStorage(env, env.SOMA_ARTIFACTS_DIR);

const kafka: (EventBus & AsyncDisposable) | undefined = env.SOMA_KAFKA_BROKERS
  ? await connectKafka(env.SOMA_KAFKA_BROKERS, 'somaagent-worker')
  : undefined;
const audit: AuditSink = kafka ?? {
  publish: async (event) => void process.stderr.write(`${JSON.stringify(event)}\n`),
};
const policyEvaluator =
  opaPolicyEvaluator(env.SOMA_OPA_URL, env.SOMA_OPA_TIMEOUT_MS) ?? (await createWasmPolicyEvaluator());
const policy = createPolicyDecider({ evaluator: policyEvaluator, audit });
const redisEngines = env.SOMA_REDIS_URL ? await connectRedis(env.SOMA_REDIS_URL) : undefined;
const redis = redisEngines?.redis;
const redisStreams: StreamLog | undefined = redisEngines?.streams;
const embedder = env.SOMA_EMBEDDINGS_BASE_URL
  ? new OpenAICompatibleEmbeddingModel({
      baseUrl: env.SOMA_EMBEDDINGS_BASE_URL,
      model: env.SOMA_EMBEDDINGS_MODEL!,
      dimension: env.SOMA_EMBEDDINGS_DIMENSION!,
      ...(env.SOMA_EMBEDDINGS_API_KEY ? { apiKey: env.SOMA_EMBEDDINGS_API_KEY } : {}),
    })
  : new UniversalSentenceEncoderWorkerEmbeddingModel();
const capsuleModel: CapsuleModel | undefined = env.SOMA_LLM_BASE_URL
  ? {
      model: OpenAICompatibleChatModel.fromUrl(env.SOMA_LLM_BASE_URL, env.SOMA_LLM_API_KEY),
      defaultModel: env.SOMA_LLM_MODEL,
    }
  : undefined;

const events = new InProcessEventBus();
const runtime: ModuleRuntime = {
  db,
  events,
  // Only the activities publish run events; without Redis nobody outside this process could follow them.
  streams: redisStreams ?? new InMemoryStreamLog(),
  objectStorage,
  policyEvaluator,
  policy,
  embedder,
  knownCapabilities: platformModules.flatMap((m) => m.capabilities),
  workflowEngine: () => Promise.reject(new Error('the worker process serves no capsules subgraph')),
};
// The ports the activities use, from the modules of the one list that provide them.
const ACTIVITY_PORTS: readonly CrossDomainPortName[] = ['capsuleRecall', 'capsuleRunStore'];
const ports: Partial<CrossDomainPorts> = {};
const providers = await createModules({
  modules: platformModules.filter((m) => m.provides.some((port) => ACTIVITY_PORTS.includes(port))),
  runtime,
  configs: {},
  bridges,
  ports,
});
const activities = createCapsuleRunActivities(
  { objectStorage, policy, ...(redisStreams ? { streams: redisStreams } : {}) },
  ports,
  capsuleModel,
);
// The process's own series (memory, event loop, GC), like every other process; prom-client only when asked for.
const metricsServer =
  env.SOMA_METRICS_PORT !== undefined
    ? await import('@somaagent/observability').then(({ PlatformMetrics, serveMetrics }) =>
        serveMetrics(new PlatformMetrics(), { host: env.SOMA_METRICS_HOST, port: env.SOMA_METRICS_PORT! }),
      )
    : undefined;
if (metricsServer) console.log(`worker metrics: ${metricsServer.url}`);

const release = async () => {
  await metricsServer?.close();
  await disposeModules(providers);
  await embedder[Symbol.asyncDispose]();
  await capsuleModel?.model[Symbol.asyncDispose]();
  redis?.disconnect();
  await kafka?.[Symbol.asyncDispose]();
  await objectStorage[Symbol.asyncDispose]();
  await db[Symbol.asyncDispose]();
};

if (env.SOMA_WORKER_ENGINE === 'journal') {
  const engine = new JournalWorkflowEngine(db, {
    workflows: { capsuleRun: capsuleRunWorkflow },
    activities,
  }).startWorker();
  console.log(`worker ready: journal engine on PostgreSQL (pid ${process.pid})`);
  process.once('SIGTERM', async () => {
    await engine[Symbol.asyncDispose]();
    await release();
    process.exit(0);
  });
} else {
  const { createTemporalWorker, DefaultLogger, NativeConnection, Runtime } = await import(
    '@somaagent/workflows/temporal-worker'
  );
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address: env.SOMA_TEMPORAL_ADDRESS! });
  const worker = await createTemporalWorker({
    connection,
    namespace: env.SOMA_TEMPORAL_NAMESPACE,
    taskQueue: env.SOMA_TEMPORAL_TASK_QUEUE,
    activities,
    ...(env.SOMA_TEMPORAL_WORKFLOW_BUNDLE
      ? { workflowBundle: { code: readFileSync(env.SOMA_TEMPORAL_WORKFLOW_BUNDLE, 'utf8') } }
      : { workflowsPath: WORKFLOWS_PATH }),
  });
  const running = worker.run();
  console.log(`worker ready: temporal task queue ${env.SOMA_TEMPORAL_TASK_QUEUE} (pid ${process.pid})`);
  process.once('SIGTERM', () => worker.shutdown());
  await running;
  await connection.close();
  await release();
}
