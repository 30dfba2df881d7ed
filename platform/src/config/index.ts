export * from './engineEnv';
export {
  connectKafka,
  connectRedis,
  connectTemporal,
  opaPolicyEvaluator,
  openObjectStorage,
  openPostgres,
  type S3Settings,
} from './engines';
export { type ChatModels, openChatModels, openEmbedder } from './models';
export { type PlatformConfig, PlatformEnv, readPlatformConfig } from './platformConfig';
export { ConfigError, type ConfigIssue, readConfig, readConfigOrExit } from './readConfig';
export {
  type RouterConfig,
  RouterEnv,
  readRouterConfig,
  subgraphUrlsOf,
  subgraphUrlVariable,
} from './routerConfig';
export {
  commaSeparated,
  externalIssuersOf,
  persistedDocumentsOrExit,
  splitRateLimits,
} from './routerSettings';
export { readSubgraphConfig, type SubgraphConfig, SubgraphEnv } from './subgraphConfig';
export { readWorkerConfig, type WorkerConfig, WorkerEnv } from './workerConfig';
