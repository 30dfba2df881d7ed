/**
 * The capsule-run worker process: `tsx workers/src/worker.ts`. Executes capsule runs on the
 * engine chosen by SOMA_WORKER_ENGINE and prints `worker ready` once it polls.
 *
 * - `journal`: the embedded engine on the PostgreSQL server at SOMA_DATABASE_URL (resumes every
 *   unfinished run it finds, replaying its journal).
 * - `temporal`: a Temporal Worker on SOMA_TEMPORAL_ADDRESS / SOMA_TEMPORAL_NAMESPACE /
 *   SOMA_TEMPORAL_TASK_QUEUE; SOMA_TEMPORAL_WORKFLOW_BUNDLE names a prebuilt workflow bundle
 *   (`bundleWorkflowCode`), otherwise workflows.ts is bundled at start-up (tens of seconds).
 *
 * Artifacts go to the S3 server at SOMA_S3_ENDPOINT (bucket SOMA_S3_BUCKET) when set, else to
 * the folder SOMA_ARTIFACTS_DIR. The crash tests SIGKILL this process mid-run.
 *
 * Steps are gated by policy (docs/capsules.md): the OPA server at SOMA_OPA_URL when set, else the
 * committed Rego compiled to wasm, in this process. Every decision is audited on Kafka
 * (SOMA_KAFKA_BROKERS, topic agent.audit) when set, else as one JSON line per decision on stderr.
 * Memory-recall steps fail here (this process has no memory domain; they run in `npm start`).
 */
import { readFileSync } from 'node:fs';
import { S3Client } from '@aws-sdk/client-s3';
import { KafkaEventBus } from '@somaagent/kafka';
import {
  type AuditSink,
  createPolicyDecider,
  createWasmPolicyEvaluator,
  OpaServerPolicyEvaluator,
} from '@somaagent/policy';
import type { ObjectStorage } from '@somaagent/ports';
import { PostgresSqlDatabase } from '@somaagent/postgres';
import {
  createTemporalWorker,
  FileSystemObjectStorage,
  JournalWorkflowEngine,
  S3ObjectStorage,
} from '@somaagent/workflows';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { z } from 'zod';
import { createActivities } from './activities';
import { capsuleRunWorkflow } from './capsuleRunWorkflow';

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
});

const env = Env.parse(process.env);
const appPool = new pg.Pool({ connectionString: env.SOMA_DATABASE_URL, max: 4 });
appPool.on('error', () => undefined);
// Migrations are applied by whoever starts the platform; the worker only reads and writes as soma_app.
const db = new PostgresSqlDatabase({ appPool, ownerPool: appPool });

let storage: ObjectStorage;
if (env.SOMA_S3_ENDPOINT) {
  const client = new S3Client({
    endpoint: env.SOMA_S3_ENDPOINT,
    region: env.SOMA_S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.SOMA_S3_ACCESS_KEY ?? '', secretAccessKey: env.SOMA_S3_SECRET_KEY ?? '' },
  });
  storage = new S3ObjectStorage(client, env.SOMA_S3_BUCKET);
} else {
  storage = await FileSystemObjectStorage.open(env.SOMA_ARTIFACTS_DIR);
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
const policy = createPolicyDecider({
  evaluator: env.SOMA_OPA_URL
    ? new OpaServerPolicyEvaluator({ url: env.SOMA_OPA_URL })
    : await createWasmPolicyEvaluator(),
  audit,
});

const activities = createActivities({ db, storage, policy });

if (env.SOMA_WORKER_ENGINE === 'journal') {
  const engine = new JournalWorkflowEngine(db, {
    workflows: { capsuleRun: capsuleRunWorkflow },
    activities,
  }).startWorker();
  console.log(`worker ready: journal engine on PostgreSQL (pid ${process.pid})`);
  process.once('SIGTERM', async () => {
    await engine[Symbol.asyncDispose]();
    await appPool.end();
    process.exit(0);
  });
} else {
  if (!env.SOMA_TEMPORAL_ADDRESS)
    throw new Error('SOMA_TEMPORAL_ADDRESS is required for SOMA_WORKER_ENGINE=temporal');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const connection = await NativeConnection.connect({ address: env.SOMA_TEMPORAL_ADDRESS });
  const worker = await createTemporalWorker({
    connection,
    namespace: env.SOMA_TEMPORAL_NAMESPACE,
    taskQueue: env.SOMA_TEMPORAL_TASK_QUEUE,
    activities,
    ...(env.SOMA_TEMPORAL_WORKFLOW_BUNDLE
      ? { workflowBundle: { code: readFileSync(env.SOMA_TEMPORAL_WORKFLOW_BUNDLE, 'utf8') } }
      : { workflowsPath: new URL('./workflows.ts', import.meta.url).pathname }),
  });
  const running = worker.run();
  console.log(`worker ready: temporal task queue ${env.SOMA_TEMPORAL_TASK_QUEUE} (pid ${process.pid})`);
  process.once('SIGTERM', () => worker.shutdown());
  await running;
  await connection.close();
  await appPool.end();
}
