import { fileURLToPath } from 'node:url';
import type { Migration } from '@somaagent/ports';
import { loadMigrations } from '@somaagent/postgres';

export {
  ActivityFailedError,
  JournalWorkflowEngine,
  type JournalWorkflowEngineOptions,
  WorkflowCancelledError,
} from './JournalWorkflowEngine';
export {
  FileSystemObjectStorage,
  type FileSystemObjectStorageOptions,
} from './storage/FileSystemObjectStorage';
export {
  ARTIFACT_CSP,
  contentDisposition,
  FALLBACK_CONTENT_TYPE,
  INLINE_CONTENT_TYPES,
  inertDownloadHeaders,
  safeContentType,
} from './storage/inertDownload';
export { S3ObjectStorage } from './storage/S3ObjectStorage';
export {
  createTemporalWorker,
  type TemporalWorkerOptions,
  toTemporalActivities,
} from './temporal/createTemporalWorker';
export {
  TemporalWorkflowEngine,
  type TemporalWorkflowEngineOptions,
} from './temporal/TemporalWorkflowEngine';

/** The embedded engine's journal tables; apply with `db.migrate(workflowsMigrations)`. */
export const workflowsMigrations: Migration[] = loadMigrations(
  'workflows',
  fileURLToPath(new URL('../migrations', import.meta.url)),
);
