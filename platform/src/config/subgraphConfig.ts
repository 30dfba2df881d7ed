import { z } from 'zod';
import {
  bool,
  chatModelEnv,
  checkEngineEnv,
  embeddingsEnv,
  jsonOf,
  kafkaEnv,
  llmEnv,
  metricsEnv,
  opaEnv,
  redisEnv,
  s3Env,
  temporalEnv,
} from './engineEnv';
import { ModelPrices, RateLimits } from './platformConfig';
import { readConfigOrExit } from './readConfig';

const secret = z.string({ error: 'required' }).min(32, 'use at least 32 characters');

/**
 * One subgraph as its own process (`npm run subgraph -- <name>`, platform/src/subgraph.ts).
 * Every subgraph process reads the same schema; the settings of one module are required only in
 * that module's process (`readSubgraphConfig`).
 */
export const SubgraphEnv = z
  .object({
    /** Subgraphs are internal: loopback unless the deployment puts them on a private network. */
    SOMA_SUBGRAPH_HOST: z.string().min(1).default('127.0.0.1'),
    /** @default 0 (a free port, printed in the ready line); give the router a fixed one. */
    SOMA_SUBGRAPH_PORT: z.coerce.number().int().min(0).max(65535).default(0),
    /** The PostgreSQL server shared by every process, as `soma_app`. */
    SOMA_DATABASE_URL: z.url({
      protocol: /^postgres(ql)?$/,
      error:
        'must be the URL of the PostgreSQL server as soma_app, e.g. postgres://soma_app:…@127.0.0.1:5432/soma',
    }),
    /** The schema owner: set, this process applies the migrations of the modules it creates; unset, it migrates nothing. */
    SOMA_DATABASE_OWNER_URL: z
      .url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL of the schema owner' })
      .optional(),
    /** HMAC secret of the router's signed requests: the same value as the router's. */
    SOMA_ROUTER_SECRET: secret,
    /** Files of this process: the LOCAL model generated on first use, artifacts without S3. @default '.data' */
    SOMA_DATA_DIR: z.string().default('.data'),
    // identity
    /** `iss` of the tokens identity issues; the router trusts the same value. Required for identity. */
    SOMA_ISSUER: z.string().min(1).optional(),
    SOMA_AUDIENCE: z.string().min(1).default('somaagent'),
    SOMA_ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().positive().default(900),
    /** Bootstrap key that exchanges for a platform-administrator token. @default none (no bootstrap key) */
    SOMA_PLATFORM_ADMIN_KEY: secret.optional(),
    /** Seals the token-signing private keys at rest; every identity replica needs the same. Required for identity. */
    SOMA_SIGNING_KEY_SECRET: secret.optional(),
    // sessions (and capsule model-call steps with the journal engine)
    ...llmEnv,
    ...chatModelEnv,
    SOMA_MODEL_PRICES: jsonOf(ModelPrices).optional(),
    /** As for `npm start`; this process reads the concurrent-generation quota from it. */
    SOMA_RATE_LIMITS: jsonOf(RateLimits).optional(),
    ...metricsEnv,
    // engines
    ...redisEnv,
    ...kafkaEnv,
    ...opaEnv,
    /** Development only: allow when the policy engine cannot decide. @default false */
    SOMA_POLICY_FAIL_OPEN: bool.default(false),
    ...s3Env,
    ...temporalEnv,
    ...embeddingsEnv,
  })
  .superRefine(checkEngineEnv);
export type SubgraphConfig = z.output<typeof SubgraphEnv>;

/** What a module's process needs beyond the shared variables, by module name. */
const REQUIRED_BY_MODULE: Partial<Record<string, { variable: keyof SubgraphConfig; why: string }[]>> = {
  identity: [
    { variable: 'SOMA_ISSUER', why: 'the `iss` of the tokens it issues (the router trusts the same value)' },
    {
      variable: 'SOMA_SIGNING_KEY_SECRET',
      why: 'seals the signing keys at rest (≥ 32 characters, the same for every identity replica)',
    },
  ],
};

/**
 * The configuration of the process serving module `name`, read once; a bad or missing variable
 * exits 2, naming it.
 */
export function readSubgraphConfig(name: string, env: NodeJS.ProcessEnv = process.env): SubgraphConfig {
  const schema = SubgraphEnv.superRefine((config, ctx) => {
    for (const { variable, why } of REQUIRED_BY_MODULE[name] ?? []) {
      if (config[variable] === undefined)
        ctx.addIssue({
          code: 'custom',
          path: [variable],
          message: `required for the ${name} subgraph: ${why}`,
        });
    }
  });
  return readConfigOrExit(schema, env, `subgraph ${name}`);
}
