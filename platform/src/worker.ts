/**
 * The capsule-run worker process: `tsx platform/src/worker.ts`. Executes capsule runs on the
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
 * the folder SOMA_ARTIFACTS_DIR. Steps are gated by policy (docs/capsules.md): the OPA server at
 * SOMA_OPA_URL when set, else the committed Rego compiled to wasm, in this process. Every
 * decision is audited on Kafka (SOMA_KAFKA_BROKERS, topic agent.audit) when set, else as one JSON
 * line per decision on stderr. Model-call steps ask the OpenAI-compatible server at
 * SOMA_LLM_BASE_URL (model SOMA_LLM_MODEL unless the step names one); memory is embedded with
 * the model of SOMA_EMBEDDINGS_* (as `npm start` reads them), else Universal Sentence Encoder
 * lite in a worker thread, which must match what the platform stored. Run events are also
 * appended to Redis (SOMA_REDIS_URL) when set, so subscriptions elsewhere follow them live.
 * The crash tests SIGKILL this process mid-run.
 */
import { readFileSync } from 'node:fs';
import { S3Client } from '@aws-sdk/client-s3';
import {
  OpenAICompatibleEmbeddingModel,
  UniversalSentenceEncoderWorkerEmbeddingModel,
} from '@somaagent/embeddings';
import { InMemoryStreamLog, InProcessEventBus } from '@somaagent/events';
import { KafkaEventBus } from '@somaagent/kafka';
import { OpenAICompatibleChatModel } from '@somaagent/models';
import {
  type AuditSink,
  createPolicyDecider,
  createWasmPolicyEvaluator,
  OpaServerPolicyEvaluator,
} from '@somaagent/policy';
import type { CrossDomainPortName, CrossDomainPorts, ObjectStorage, StreamLog } from '@somaagent/ports';
import { PostgresSqlDatabase } from '@somaagent/postgres';
import { RedisStreamLog } from '@somaagent/redis';
import type { ModuleRuntime } from '@somaagent/subgraph-server';
import { capsuleRunWorkflow, WORKFLOWS_PATH } from '@somaagent/workers';
import {
  createTemporalWorker,
  FileSystemObjectStorage,
  JournalWorkflowEngine,
  S3ObjectStorage,
} from '@somaagent/workflows';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { z } from 'zod';
import { bridges } from './bridges/index';
import { type CapsuleModel, createCapsuleRunActivities } from './createCapsuleRunActivities';
import { createModules, disposeModules } from './createModules';
import { platformModules } from './modules';

const Env = z.object({
  SOMA_WORKER_ENGINE: z.enum(['journal', 'temporal']),
  SOMA_DATABASE_URL: z.string().min(1),
  SOMA_TEMPORAL_ADDRESS: z.string().optional(),
  SOMA_TEMPORAL_NAMESPACE: z.string().default('default'),
  SOMA_TEMPORAL_TASK_QUEUE: z.string().default('soma-capsules'),
  SOMA_TEMPORAL_WORKFLOW_BUNDLE: z.string().optional(),
  SOMA_S3_ENDPOINT: z.string().optional(),
  SOMA_S3_ACCESS_KEY: z.string().optional(),
  SOMA_S3_SECRET_KEY: z.string().optional(),
  SOMA_S3_REGION: z.string().default('us-east-1'),
  SOMA_S3_BUCKET: z.string().default('soma-artifacts'),
  SOMA_ARTIFACTS_DIR: z.string().default('.data/artifacts'),
  SOMA_OPA_URL: z.string().url().optional(),
  SOMA_KAFKA_BROKERS: z.string().optional(),
  SOMA_REDIS_URL: z.string().url().optional(),
  SOMA_LLM_BASE_URL: z.string().url().optional(),
  SOMA_LLM_API_KEY: z.string().default('not-needed'),
  /** The model a model-call step without `model` asks for. @default 'default' */
  SOMA_LLM_MODEL: z.string().min(1).default('default'),
  SOMA_EMBEDDINGS_BASE_URL: z.string().url().optional(),
  SOMA_EMBEDDINGS_MODEL: z.string().min(1).optional(),
  SOMA_EMBEDDINGS_DIMENSION: z.coerce.number().int().min(1).max(16_000).optional(),
  SOMA_EMBEDDINGS_API_KEY: z.string().min(1).optional(),
});

const parsed = Env.safeParse(process.env);
if (!parsed.success) {
  console.error('worker: invalid configuration');
  for (const issue of parsed.error.issues) console.error(`  ${issue.path.join('.')}: ${issue.message}`);
  process.exit(2);
}
const env = parsed.data;
if (env.SOMA_WORKER_ENGINE === 'temporal' && !env.SOMA_TEMPORAL_ADDRESS) {
  console.error(
    'worker: invalid configuration\n  SOMA_TEMPORAL_ADDRESS: required with SOMA_WORKER_ENGINE=temporal',
  );
  process.exit(2);
}
if (env.SOMA_EMBEDDINGS_BASE_URL && (!env.SOMA_EMBEDDINGS_MODEL || !env.SOMA_EMBEDDINGS_DIMENSION)) {
  console.error(
    'worker: invalid configuration\n  SOMA_EMBEDDINGS_BASE_URL needs SOMA_EMBEDDINGS_MODEL and SOMA_EMBEDDINGS_DIMENSION',
  );
  process.exit(2);
}

const appPool = new pg.Pool({ connectionString: env.SOMA_DATABASE_URL, max: 4 });
appPool.on('error', () => undefined);
// Migrations are applied by whoever starts the platform; the worker only reads and writes as soma_app.
const db = new PostgresSqlDatabase({ appPool, ownerPool: appPool });

let objectStorage: ObjectStorage;
if (env.SOMA_S3_ENDPOINT) {
  const client = new S3Client({
    endpoint: env.SOMA_S3_ENDPOINT,
    region: env.SOMA_S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.SOMA_S3_ACCESS_KEY ?? '', secretAccessKey: env.SOMA_S3_SECRET_KEY ?? '' },
  });
  objectStorage = new S3ObjectStorage(client, env.SOMA_S3_BUCKET);
} else {
  objectStorage = await FileSystemObjectStorage.open(env.SOMA_ARTIFACTS_DIR);
}

const audit: AuditSink = env.SOMA_KAFKA_BROKERS
  ? new KafkaEventBus(
      new Kafka({
        clientId: 'somaagent-worker',
        brokers: env.SOMA_KAFKA_BROKERS.split(','),
        logLevel: logLevel.WARN,
      }),
    )
  : { publish: async (event) => void process.stderr.write(`${JSON.stringify(event)}\n`) };
const policyEvaluator = env.SOMA_OPA_URL
  ? new OpaServerPolicyEvaluator({ url: env.SOMA_OPA_URL })
  : await createWasmPolicyEvaluator();
const policy = createPolicyDecider({ evaluator: policyEvaluator, audit });
const redis = env.SOMA_REDIS_URL ? new Redis(env.SOMA_REDIS_URL, { maxRetriesPerRequest: 3 }) : undefined;
const redisStreams: StreamLog | undefined = redis ? new RedisStreamLog(redis) : undefined;
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
const ACTIVITY_PORTS: readonly CrossDomainPortName[] = ['capsuleRecall'];
const ports: Partial<CrossDomainPorts> = {};
const providers = await createModules({
  modules: platformModules.filter((m) => m.provides.some((port) => ACTIVITY_PORTS.includes(port))),
  runtime,
  configs: {},
  bridges,
  ports,
});
const activities = createCapsuleRunActivities(
  { db, objectStorage, policy, ...(redisStreams ? { streams: redisStreams } : {}) },
  ports,
  capsuleModel,
);
const release = async () => {
  await disposeModules(providers);
  await embedder[Symbol.asyncDispose]();
  await capsuleModel?.model[Symbol.asyncDispose]();
  redis?.disconnect();
  await appPool.end();
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
