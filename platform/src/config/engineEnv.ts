import { createClientAddresses } from '@somaagent/router';
import { z } from 'zod';

/**
 * The environment variables that select an engine, shared by every process kind (`npm start`,
 * the worker). Each process schema spreads the groups it reads; the cross-variable rules are in
 * `checkEngineEnv`. An empty value counts as unset (`SOMA_S3_ENDPOINT=` turns S3 off).
 */

/** `true`/`false`/`1`/`0`. */
export const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

/** A variable holding JSON, parsed and then checked against `schema` (issues name the path inside). */
export const jsonOf = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .transform((raw, ctx) => {
      try {
        return JSON.parse(raw) as unknown;
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `not JSON: ${(error as Error).message}` });
        return z.NEVER;
      }
    })
    .pipe(schema);

const HTTP = /^https?$/;
/** A URL whose scheme matches `protocol` (so `opa:8181` is refused, not taken for a scheme). */
const url = (example: string, protocol = HTTP) =>
  z.url({ protocol, error: `must be a URL, e.g. ${example}` });
const name = z.string().min(1);

export const databaseEnv = {
  /** PostgreSQL server as `soma_app` (row-level security applies). Unset: embedded PGlite. */
  SOMA_DATABASE_URL: url('postgres://soma_app:…@127.0.0.1:5432/soma', /^postgres(ql)?$/).optional(),
  /** Required with SOMA_DATABASE_URL: the schema owner, which runs migrations. */
  SOMA_DATABASE_OWNER_URL: url('postgres://soma_owner:…@127.0.0.1:5432/soma', /^postgres(ql)?$/).optional(),
};

export const redisEnv = {
  /** Session streams, rate-limit counters and router nonces in Redis. @default in memory */
  SOMA_REDIS_URL: url('redis://:password@127.0.0.1:6379', /^rediss?$/).optional(),
};

export const kafkaEnv = {
  /** Platform events on Kafka: comma-separated host:port list. @default in-process events */
  SOMA_KAFKA_BROKERS: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^[^\s:]+:\d+$/, 'each broker is host:port')).min(1))
    .optional(),
};

export const opaEnv = {
  /** An OPA server with SomaAgent's policies loaded decides policy. @default the Rego as wasm in-process */
  SOMA_OPA_URL: url('http://127.0.0.1:8181').optional(),
  /** How long one OPA decision may take before the request fails closed. @default 2000 */
  SOMA_OPA_TIMEOUT_MS: z.coerce.number().int().min(1).max(60_000).optional(),
};

export const s3Env = {
  /** An S3-compatible server (MinIO, AWS) holds capsule artifacts. @default files in the data dir */
  SOMA_S3_ENDPOINT: url('http://127.0.0.1:9000').optional(),
  /** Required with SOMA_S3_ENDPOINT: an existing bucket. */
  SOMA_S3_BUCKET: name.optional(),
  /** Required with SOMA_S3_ENDPOINT. */
  SOMA_S3_ACCESS_KEY_ID: name.optional(),
  /** Required with SOMA_S3_ENDPOINT (never logged). */
  SOMA_S3_SECRET_ACCESS_KEY: name.optional(),
  /** @default 'us-east-1' */
  SOMA_S3_REGION: name.default('us-east-1'),
  /** Path-style URLs (`endpoint/bucket/key`), as MinIO needs. @default true */
  SOMA_S3_FORCE_PATH_STYLE: bool.default(true),
};

export const temporalEnv = {
  /** A Temporal frontend (host:port) runs capsule runs; workers: `npm run worker`. @default the journal engine in-process */
  SOMA_TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^\s:/]+:\d+$/, 'must be host:port, e.g. 127.0.0.1:7233')
    .optional(),
  /** @default 'default' */
  SOMA_TEMPORAL_NAMESPACE: name.default('default'),
  /** The task queue the platform starts runs on and `npm run worker` polls. @default 'soma-capsules' */
  SOMA_TEMPORAL_TASK_QUEUE: name.default('soma-capsules'),
};

export const llmEnv = {
  /** Any OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1. */
  SOMA_LLM_BASE_URL: url('http://127.0.0.1:8080/v1').optional(),
  /** @default 'not-needed' */
  SOMA_LLM_API_KEY: z.string().default('not-needed'),
  /** Default model name on that server for capsule model-call steps that name none. */
  SOMA_LLM_MODEL: name.optional(),
  /**
   * A GGUF with the served model's tokenizer (the served file, or its vocabulary-only GGUF): a
   * stream cut short on a server without running counts (vLLM, gateways) is counted with it
   * instead of estimated (docs/security.md §2). llama-server reports its own counts.
   */
  SOMA_LLM_TOKENIZER_GGUF: z.string().min(1).optional(),
};

/** The personas' providers besides SOMA_LLM_*: the LOCAL engine in the process (config/models.ts). */
export const chatModelEnv = {
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
};

export const embeddingsEnv = {
  /** Memory embeddings from an OpenAI-compatible `/v1/embeddings` server. @default Universal Sentence Encoder lite in a worker thread */
  SOMA_EMBEDDINGS_BASE_URL: url('http://127.0.0.1:8081/v1').optional(),
  /** Required with SOMA_EMBEDDINGS_BASE_URL: the model name sent and recorded with vectors. */
  SOMA_EMBEDDINGS_MODEL: name.optional(),
  /** Required with SOMA_EMBEDDINGS_BASE_URL: the width of that model's vectors (checked). */
  SOMA_EMBEDDINGS_DIMENSION: z.coerce.number().int().min(1).max(16_000).optional(),
  SOMA_EMBEDDINGS_API_KEY: name.optional(),
};

type EngineEnv = {
  SOMA_S3_ENDPOINT?: string | undefined;
  SOMA_S3_BUCKET?: string | undefined;
  SOMA_S3_ACCESS_KEY_ID?: string | undefined;
  SOMA_S3_SECRET_ACCESS_KEY?: string | undefined;
  SOMA_EMBEDDINGS_BASE_URL?: string | undefined;
  SOMA_EMBEDDINGS_MODEL?: string | undefined;
  SOMA_EMBEDDINGS_DIMENSION?: number | undefined;
};

const S3_NEEDS = ['SOMA_S3_BUCKET', 'SOMA_S3_ACCESS_KEY_ID', 'SOMA_S3_SECRET_ACCESS_KEY'] as const;

/** The rules across engine variables: each issue names the variable to set. */
export function checkEngineEnv(env: EngineEnv, ctx: z.RefinementCtx): void {
  const issue = (variable: string, message: string) =>
    ctx.addIssue({ code: 'custom', path: [variable], message });
  if (env.SOMA_EMBEDDINGS_BASE_URL && (!env.SOMA_EMBEDDINGS_MODEL || !env.SOMA_EMBEDDINGS_DIMENSION))
    issue(
      env.SOMA_EMBEDDINGS_MODEL ? 'SOMA_EMBEDDINGS_DIMENSION' : 'SOMA_EMBEDDINGS_MODEL',
      'SOMA_EMBEDDINGS_BASE_URL needs SOMA_EMBEDDINGS_MODEL and SOMA_EMBEDDINGS_DIMENSION (the model name and the width of its vectors, e.g. 384 for all-MiniLM-L6-v2)',
    );
  for (const variable of S3_NEEDS) {
    if (env.SOMA_S3_ENDPOINT && !env[variable]) issue(variable, 'required with SOMA_S3_ENDPOINT');
    if (!env.SOMA_S3_ENDPOINT && env[variable])
      issue(
        'SOMA_S3_ENDPOINT',
        `required with ${variable} (the S3 server's URL, e.g. http://127.0.0.1:9000), or unset ${variable}`,
      );
  }
}

/** Comma-separated addresses or CIDR blocks of the reverse proxies in front of the router. */
export const trustedProxiesEnv = z
  .string()
  .default('')
  .refine(
    (value) => {
      try {
        createClientAddresses(
          value
            .split(',')
            .map((item) => item.trim())
            .filter(Boolean),
        );
        return true;
      } catch {
        return false;
      }
    },
    { message: 'each entry must be an IP address or a CIDR block, e.g. 10.0.0.0/8,fd00::/8' },
  );

/** Prometheus metrics on a listener of their own (docs/observability.md). */
export const metricsEnv = {
  /** Serve `/metrics` on this port (0: any free one). @default off */
  SOMA_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** Interface of the metrics listener: keep it private. @default 127.0.0.1 */
  SOMA_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
};
