import { z } from 'zod';
import { platformModules } from '../modules';
import {
  bool,
  databaseEnv,
  jsonOf,
  kafkaEnv,
  metricsEnv,
  opaEnv,
  redisEnv,
  trustedProxiesEnv,
} from './engineEnv';
import { OidcIssuers, RateLimits } from './platformConfig';
import { readConfigOrExit } from './readConfig';

/** The variable holding the URL of module `name`'s subgraph process: `SOMA_SUBGRAPH_<NAME>_URL`. */
export const subgraphUrlVariable = (name: string) =>
  `SOMA_SUBGRAPH_${name.replace(/[^A-Za-z0-9]+/g, '_').toUpperCase()}_URL`;

const subgraphUrl = z.url({
  protocol: /^https?$/,
  error: 'must be the URL of that subgraph process, e.g. http://127.0.0.1:4101/graphql',
});

/** One required URL variable per module of the list (platform/src/modules.ts). */
const subgraphUrls = Object.fromEntries(
  platformModules.map((module) => [subgraphUrlVariable(module.name), subgraphUrl]),
) as Record<string, typeof subgraphUrl>;

/** The standalone router (`npm run router`, platform/src/router.ts): the one public endpoint. */
export const RouterEnv = z.object({
  SOMA_HOST: z.string().default('127.0.0.1'),
  SOMA_PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  /** HMAC secret of the signed subgraph requests: the same value as every subgraph process's. */
  SOMA_ROUTER_SECRET: z
    .string({ error: 'required: the HMAC secret every subgraph process is given' })
    .min(32, 'use at least 32 characters'),
  /** `iss` of SomaAgent's own tokens (the identity process's SOMA_ISSUER); keys from its JWKS. */
  SOMA_ISSUER: z.string({ error: "required: the identity process's SOMA_ISSUER" }).min(1),
  SOMA_AUDIENCE: z.string().min(1).default('somaagent'),
  /**
   * The platform's PostgreSQL as `soma_app` (read only here): revocations stored by identity are
   * followed (refused within ~1 s) and roles bound to external issuers are resolved. Unset:
   * revoked tokens stay valid until they expire, and external issuers that bind roles are refused.
   */
  SOMA_DATABASE_URL: databaseEnv.SOMA_DATABASE_URL,
  /** How long SomaAgent's own tokens live (the identity process's value): how long revocations are kept. */
  SOMA_ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().positive().default(900),
  ...subgraphUrls,
  /** @default schema/supergraph.graphql of this repository */
  SOMA_SUPERGRAPH_PATH: z.string().min(1).optional(),
  SOMA_INTROSPECTION: bool.default(true),
  SOMA_ALLOWED_ORIGINS: z.string().default(''),
  /**
   * Comma-separated addresses or CIDR blocks of the reverse proxies in front of the router:
   * from them, X-Forwarded-For names the client (per-IP budgets, sign-in throttling). @default none
   */
  SOMA_TRUSTED_PROXIES: trustedProxiesEnv,
  ...metricsEnv,
  /** As for `npm start` (docs/security.md §1). */
  SOMA_OIDC_ISSUERS: jsonOf(OidcIssuers).default([]),
  /** As for `npm start`; the router enforces the request and socket budgets of it. */
  SOMA_RATE_LIMITS: jsonOf(RateLimits).optional(),
  SOMA_PERSISTED_DOCUMENTS: z.string().min(1).optional(),
  ...redisEnv,
  ...kafkaEnv,
  ...opaEnv,
  /** Development only: allow when the policy engine cannot decide. @default false */
  SOMA_POLICY_FAIL_OPEN: bool.default(false),
});
export type RouterConfig = z.output<typeof RouterEnv>;

/** The router's configuration from `env`, read once; a bad or missing variable exits 2, naming it. */
export const readRouterConfig = (env: NodeJS.ProcessEnv = process.env): RouterConfig =>
  readConfigOrExit(RouterEnv, env, 'router');

/** Each module's subgraph URL out of the router's configuration. */
export const subgraphUrlsOf = (config: RouterConfig): Record<string, string> =>
  Object.fromEntries(
    platformModules.map((module) => [
      module.name,
      (config as unknown as Record<string, string>)[subgraphUrlVariable(module.name)]!,
    ]),
  );
