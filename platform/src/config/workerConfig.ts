import { z } from 'zod';
import {
  checkEngineEnv,
  embeddingsEnv,
  kafkaEnv,
  llmEnv,
  metricsEnv,
  opaEnv,
  redisEnv,
  s3Env,
  temporalEnv,
} from './engineEnv';
import { readConfigOrExit } from './readConfig';

/** The capsule-run worker process (`npm run worker`, platform/src/worker.ts). */
export const WorkerEnv = z
  .object({
    /** `journal`: the embedded engine on the PostgreSQL server; `temporal`: a Temporal Worker. */
    SOMA_WORKER_ENGINE: z.enum(['journal', 'temporal'], 'must be journal or temporal'),
    /** The platform's PostgreSQL server, as `soma_app` (the platform runs the migrations). */
    SOMA_DATABASE_URL: z.url("must be the URL of the platform's PostgreSQL server, as soma_app"),
    ...temporalEnv,
    /** A prebuilt workflow bundle (`bundleWorkflowCode`). @default workers/src/workflows.ts bundled at start-up (tens of seconds) */
    SOMA_TEMPORAL_WORKFLOW_BUNDLE: z.string().min(1).optional(),
    ...s3Env,
    /** Artifacts without S3. @default '.data/artifacts' */
    SOMA_ARTIFACTS_DIR: z.string().default('.data/artifacts'),
    ...opaEnv,
    ...kafkaEnv,
    ...redisEnv,
    ...metricsEnv,
    ...llmEnv,
    /** The model a model-call step without `model` asks for. @default 'default' */
    SOMA_LLM_MODEL: z.string().min(1).default('default'),
    ...embeddingsEnv,
  })
  .superRefine((env, ctx) => {
    checkEngineEnv(env, ctx);
    if (env.SOMA_WORKER_ENGINE === 'temporal' && !env.SOMA_TEMPORAL_ADDRESS)
      ctx.addIssue({
        code: 'custom',
        path: ['SOMA_TEMPORAL_ADDRESS'],
        message: 'required with SOMA_WORKER_ENGINE=temporal (host:port of the Temporal frontend)',
      });
  });
export type WorkerConfig = z.output<typeof WorkerEnv>;

/** The worker's configuration from `env`, read once; a bad or missing variable exits 2, naming it. */
export const readWorkerConfig = (env: NodeJS.ProcessEnv = process.env): WorkerConfig =>
  readConfigOrExit(WorkerEnv, env, 'worker');
