// `@somaagent/workflows/temporal-worker`: the Temporal worker (loads its native bridge).
export { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
export {
  createTemporalWorker,
  type TemporalWorkerOptions,
  toTemporalActivities,
} from './createTemporalWorker';
