/**
 * vitest global setup of the `contract` and `e2e` projects: brings up the real servers through
 * the same engine code as `npm run infra` (scripts/infra), hands their coordinates to tests with
 * `project.provide` (read them with `inject('postgres')`, `inject('oidc')`) and exports the same
 * values in `process.env` for child processes the tests spawn.
 *
 * An engine already running and healthy (e.g. after `npm run infra up`, or started by another
 * vitest process) is reused; engines started by test runs are stopped at teardown once no live
 * test process still uses them, and engines started with `npm run infra up` are left running. A server that cannot start fails the
 * run with an error naming the engine and its log; nothing is skipped.
 */
import type { TestProject } from 'vitest/node';
import { InfraError } from '../../scripts/infra/engine';
import { engineByName } from '../../scripts/infra/engines/index';
import { contextFor, releaseTestLease, up } from '../../scripts/infra/infra';

/** Engines every contract/e2e run needs. */
const TEST_ENGINES = [
  'postgres',
  'oidc',
  'llm',
  'opa',
  'temporal',
  'redis',
  'minio',
  'kafka',
  'clickhouse',
  'prometheus',
  'chromium',
] as const;

interface Shared {
  /** Global setups (one per project) of this process currently using the servers. */
  holders: number;
  env: Record<string, string>;
  ready: Promise<void> | undefined;
}

// vitest loads this file once per project into separate module instances of the same process;
// the shared record makes the second project reuse the first one's servers.
const SHARED = Symbol.for('somaagent.tests.globalSetup');
const shared: Shared = ((globalThis as Record<symbol, unknown>)[SHARED] as Shared | undefined) ?? {
  holders: 0,
  env: {},
  ready: undefined,
};
(globalThis as Record<symbol, unknown>)[SHARED] = shared;

const progress = (engine: string, message: string) => console.error(`[infra] ${engine}: ${message}`);

async function bringUp(): Promise<void> {
  for (const name of TEST_ENGINES) {
    const engine = engineByName(name);
    const t0 = Date.now();
    try {
      // owner 'tests': engines this run starts are stopped by the last test run still using
      // them (another vitest process may share them); engines from `npm run infra up` never are.
      const result = await up([engine], { owner: 'tests', progress });
      Object.assign(shared.env, result.env);
      if (result.started.length) console.error(`[infra] ${name}: started in ${Date.now() - t0} ms`);
    } catch (error) {
      // Leave nothing half-up: stop what test runs started and nobody uses, then fail loudly.
      await releaseTestLease(progress).catch(() => undefined);
      const logPath =
        error instanceof InfraError && error.logPath ? error.logPath : contextFor(engine).logPath;
      throw new Error(
        `test infrastructure: engine "${name}" could not start: ${(error as Error).message}\n  log: ${logPath}`,
        { cause: error },
      );
    }
  }
}

export default async function setup(project: TestProject) {
  shared.holders++;
  shared.ready ??= bringUp();
  try {
    await shared.ready;
  } catch (error) {
    shared.holders--;
    shared.ready = undefined;
    throw error;
  }
  const env = shared.env;
  Object.assign(process.env, env);
  const need = (name: string) => {
    const value = env[name];
    if (!value) throw new Error(`test infrastructure: ${name} was not provided by the engines`);
    return value;
  };
  project.provide('postgres', {
    ownerUrl: need('SOMA_DATABASE_OWNER_URL'),
    appUrl: need('SOMA_DATABASE_URL'),
  });
  project.provide('oidc', {
    issuer: need('SOMA_TEST_OIDC_ISSUER'),
    clientId: need('SOMA_TEST_OIDC_CLIENT_ID'),
    clientSecret: need('SOMA_TEST_OIDC_CLIENT_SECRET'),
    resource: need('SOMA_TEST_OIDC_RESOURCE'),
    audience: need('SOMA_TEST_OIDC_AUDIENCE'),
    tenant: need('SOMA_TEST_OIDC_TENANT'),
  });
  project.provide('llm', {
    baseUrl: need('SOMA_LLM_BASE_URL'),
    model: need('SOMA_LLM_MODEL'),
    apiKey: need('SOMA_LLM_API_KEY'),
  });

  project.provide('opa', { url: need('SOMA_OPA_URL') });
  project.provide('temporal', {
    address: need('SOMA_TEMPORAL_ADDRESS'),
    namespace: need('SOMA_TEMPORAL_NAMESPACE'),
  });
  project.provide('redis', { url: need('SOMA_REDIS_URL') });
  project.provide('s3', {
    endpoint: need('SOMA_S3_ENDPOINT'),
    accessKeyId: need('SOMA_S3_ACCESS_KEY_ID'),
    secretAccessKey: need('SOMA_S3_SECRET_ACCESS_KEY'),
    region: need('SOMA_S3_REGION'),
  });
  project.provide('kafka', { brokers: need('SOMA_KAFKA_BROKERS').split(',') });
  project.provide('clickhouse', {
    chdbDir: need('SOMA_CLICKHOUSE_CHDB_DIR'),
    dataDir: need('SOMA_CLICKHOUSE_DATA_DIR'),
    version: need('SOMA_CLICKHOUSE_VERSION'),
  });
  return async () => {
    shared.holders--;
    if (shared.holders > 0) return;
    shared.ready = undefined;
    const stopped = await releaseTestLease(progress);
    if (stopped.length) console.error(`[infra] stopped ${stopped.join(', ')}`);
  };
}
