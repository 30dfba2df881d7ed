import { OpaServerPolicyEvaluator } from '@somaagent/policy';
import type { EventBus, ObjectStorage, PolicyEvaluator, WorkflowEngine } from '@somaagent/ports';
import { FileSystemObjectStorage } from '@somaagent/workflows';

// Builds the engine each variable selects. Every vendor SDK is loaded with `import()` here, only
// when its engine is selected, so a process on embedded defaults never loads pg, ioredis,
// kafkajs, the AWS SDK or the Temporal client (tests/e2e/leanStart.e2e.test.ts checks it).

/** A PostgreSQL server through `pg`; `ownerUrl` runs migrations (the app URL when omitted). */
export async function openPostgres(appUrl: string, ownerUrl?: string, appPoolMax?: number) {
  const [{ default: pg }, { PostgresSqlDatabase }] = await Promise.all([
    import('pg'),
    import('@somaagent/postgres'),
  ]);
  const appPool = new pg.Pool({ connectionString: appUrl, ...(appPoolMax ? { max: appPoolMax } : {}) });
  // An idle client's error (a server restart) must not kill the process; the next query reports it.
  appPool.on('error', () => undefined);
  // Without an owner URL (the worker: it never migrates) this pool stays empty; pg connects lazily.
  const ownerPool = new pg.Pool({ connectionString: ownerUrl ?? appUrl, max: 2 });
  ownerPool.on('error', () => undefined);
  return new PostgresSqlDatabase({ appPool, ownerPool });
}

/** One ioredis client and the Redis adapters built on it. */
export async function connectRedis(url: string) {
  const [{ Redis }, { RedisNonceStore, RedisRateLimiter, RedisSignInAttemptStore, RedisStreamLog }] =
    await Promise.all([import('ioredis'), import('@somaagent/redis')]);
  const redis = new Redis(url, { maxRetriesPerRequest: 3 });
  return {
    redis,
    streams: new RedisStreamLog(redis),
    rateLimiter: new RedisRateLimiter(redis),
    nonces: new RedisNonceStore(redis),
    signInAttempts: new RedisSignInAttemptStore(redis),
  };
}

/** A KafkaEventBus on `brokers`. */
export async function connectKafka(brokers: string[], clientId: string): Promise<EventBus & AsyncDisposable> {
  const [{ Kafka, logLevel }, { KafkaEventBus }] = await Promise.all([
    import('kafkajs'),
    import('@somaagent/kafka'),
  ]);
  return new KafkaEventBus(new Kafka({ clientId, brokers, logLevel: logLevel.WARN }));
}

export interface S3Settings {
  SOMA_S3_ENDPOINT?: string | undefined;
  SOMA_S3_BUCKET?: string | undefined;
  SOMA_S3_ACCESS_KEY_ID?: string | undefined;
  SOMA_S3_SECRET_ACCESS_KEY?: string | undefined;
  SOMA_S3_REGION: string;
  SOMA_S3_FORCE_PATH_STYLE: boolean;
}

/** S3ObjectStorage when SOMA_S3_ENDPOINT is set (the config schema checked its companions), else files in `dir`. */
export async function openObjectStorage(
  config: S3Settings,
  dir: string,
): Promise<ObjectStorage & AsyncDisposable & { describe: string }> {
  if (!config.SOMA_S3_ENDPOINT) {
    const storage = await FileSystemObjectStorage.open(dir);
    return Object.assign(storage, { describe: `files in ${dir}` });
  }
  const { S3Client, S3ObjectStorage } = await import('@somaagent/workflows/s3');
  const client = new S3Client({
    endpoint: config.SOMA_S3_ENDPOINT,
    region: config.SOMA_S3_REGION,
    forcePathStyle: config.SOMA_S3_FORCE_PATH_STYLE,
    credentials: {
      accessKeyId: config.SOMA_S3_ACCESS_KEY_ID!,
      secretAccessKey: config.SOMA_S3_SECRET_ACCESS_KEY!,
    },
  });
  const storage = new S3ObjectStorage(client, config.SOMA_S3_BUCKET!);
  return Object.assign(storage, {
    describe: `S3 ${config.SOMA_S3_ENDPOINT} bucket ${config.SOMA_S3_BUCKET}`,
    async [Symbol.asyncDispose]() {
      client.destroy();
    },
  });
}

/** The OPA server at `url` when set; undefined means the caller's embedded (wasm) default. */
export function opaPolicyEvaluator(url?: string, timeoutMs?: number): PolicyEvaluator | undefined {
  return url ? new OpaServerPolicyEvaluator({ url, ...(timeoutMs ? { timeoutMs } : {}) }) : undefined;
}

/** A TemporalWorkflowEngine (client side: it starts, signals and reads runs; `npm run worker` executes them). */
export async function connectTemporal(
  address: string,
  namespace: string,
  taskQueue: string,
): Promise<{ engine: WorkflowEngine; close(): Promise<void> }> {
  const { Client, Connection, TemporalWorkflowEngine } = await import('@somaagent/workflows/temporal');
  const connection = await Connection.connect({ address });
  return {
    engine: new TemporalWorkflowEngine(new Client({ connection, namespace }), { taskQueue }),
    close: () => connection.close(),
  };
}
