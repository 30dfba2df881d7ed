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
export { type PlatformConfig, PlatformEnv, readPlatformConfig } from './platformConfig';
export { ConfigError, type ConfigIssue, readConfig, readConfigOrExit } from './readConfig';
export { readWorkerConfig, type WorkerConfig, WorkerEnv } from './workerConfig';
