import { fileURLToPath } from 'node:url';
import type { Migration } from '@somaagent/ports';
import { loadMigrations } from '@somaagent/postgres';

// The embedded adapters. Vendor ones are subpaths, loaded only by whoever selects them:
// `@somaagent/workflows/temporal` (TemporalWorkflowEngine), `/temporal-worker`
// (createTemporalWorker), `/s3` (S3ObjectStorage, S3Client).

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

/** The embedded engine's journal tables; apply with `db.migrate(workflowsMigrations)`. */
export const workflowsMigrations: Migration[] = loadMigrations(
  'workflows',
  fileURLToPath(new URL('../migrations', import.meta.url)),
);
