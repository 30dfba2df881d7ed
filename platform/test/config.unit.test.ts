import { describe, expect, it } from 'vitest';
import { ConfigError, type ConfigIssue, PlatformEnv, readConfig, WorkerEnv } from '../src/config/index';

const S3 = {
  SOMA_S3_ENDPOINT: 'http://127.0.0.1:9000',
  SOMA_S3_BUCKET: 'artifacts',
  SOMA_S3_ACCESS_KEY_ID: 'minio',
  SOMA_S3_SECRET_ACCESS_KEY: 'minio-secret',
};
const PG = {
  SOMA_DATABASE_URL: 'postgres://soma_app:x@127.0.0.1:5432/soma',
  SOMA_DATABASE_OWNER_URL: 'postgres://soma_owner:x@127.0.0.1:5432/soma',
};

/** The issues `npm start`'s schema reports for `env` (none: it parsed). */
function issuesOf(
  env: NodeJS.ProcessEnv,
  schema: typeof PlatformEnv | typeof WorkerEnv = PlatformEnv,
): ConfigIssue[] {
  try {
    readConfig(schema, env, 'npm start');
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }
}

describe('npm start configuration (PlatformEnv)', () => {
  it('defaults to every embedded engine', () => {
    const config = readConfig(PlatformEnv, {}, 'npm start');
    expect(config.SOMA_PORT).toBe(4000);
    expect(config.SOMA_DATABASE_URL).toBeUndefined();
    expect(config.SOMA_OPA_URL).toBeUndefined();
    expect(config.SOMA_S3_ENDPOINT).toBeUndefined();
    expect(config.SOMA_TEMPORAL_ADDRESS).toBeUndefined();
    expect(config.SOMA_OIDC_ISSUERS).toEqual([]);
  });

  it('selects OPA, S3, Temporal, Kafka and Redis from their variables', () => {
    const config = readConfig(
      PlatformEnv,
      {
        ...PG,
        ...S3,
        SOMA_OPA_URL: 'http://127.0.0.1:8181',
        SOMA_TEMPORAL_ADDRESS: '127.0.0.1:7233',
        SOMA_TEMPORAL_NAMESPACE: 'soma',
        SOMA_KAFKA_BROKERS: '127.0.0.1:9092, 127.0.0.1:9093',
        SOMA_REDIS_URL: 'redis://:pw@127.0.0.1:6379',
      },
      'npm start',
    );
    expect(config.SOMA_S3_REGION).toBe('us-east-1');
    expect(config.SOMA_S3_FORCE_PATH_STYLE).toBe(true);
    expect(config.SOMA_TEMPORAL_TASK_QUEUE).toBe('soma-capsules');
    expect(config.SOMA_TEMPORAL_NAMESPACE).toBe('soma');
    expect(config.SOMA_KAFKA_BROKERS).toEqual(['127.0.0.1:9092', '127.0.0.1:9093']);
  });

  it('names each S3 variable missing next to SOMA_S3_ENDPOINT', () => {
    expect(issuesOf({ SOMA_S3_ENDPOINT: 'http://127.0.0.1:9000' })).toEqual([
      { variable: 'SOMA_S3_BUCKET', message: 'required with SOMA_S3_ENDPOINT' },
      { variable: 'SOMA_S3_ACCESS_KEY_ID', message: 'required with SOMA_S3_ENDPOINT' },
      { variable: 'SOMA_S3_SECRET_ACCESS_KEY', message: 'required with SOMA_S3_ENDPOINT' },
    ]);
  });

  it('names SOMA_S3_ENDPOINT when only its companions are set', () => {
    const { SOMA_S3_ENDPOINT: _, ...rest } = S3;
    const issues = issuesOf(rest);
    expect(issues.map((i) => i.variable)).toEqual([
      'SOMA_S3_ENDPOINT',
      'SOMA_S3_ENDPOINT',
      'SOMA_S3_ENDPOINT',
    ]);
    expect(issues[0]!.message).toContain('required with SOMA_S3_BUCKET');
  });

  it('treats an empty value as unset', () => {
    expect(issuesOf({ SOMA_S3_ENDPOINT: '', SOMA_OPA_URL: '' })).toEqual([]);
  });

  it('refuses malformed URLs and addresses, naming the variable and an example', () => {
    const issues = issuesOf({
      SOMA_OPA_URL: 'localhost 8181',
      SOMA_TEMPORAL_ADDRESS: 'http://127.0.0.1:7233',
      SOMA_KAFKA_BROKERS: '127.0.0.1',
      ...PG,
    });
    expect(issues).toEqual([
      { variable: 'SOMA_KAFKA_BROKERS[0]', message: 'each broker is host:port' },
      { variable: 'SOMA_OPA_URL', message: 'must be a URL, e.g. http://127.0.0.1:8181' },
      { variable: 'SOMA_TEMPORAL_ADDRESS', message: 'must be host:port, e.g. 127.0.0.1:7233' },
    ]);
  });

  it('refuses a URL of the wrong scheme', () => {
    expect(
      issuesOf({ SOMA_OPA_URL: 'opa:8181', SOMA_REDIS_URL: 'http://127.0.0.1:6379', ...PG }).map(
        (i) => i.variable,
      ),
    ).toEqual(['SOMA_REDIS_URL', 'SOMA_OPA_URL']);
    expect(
      issuesOf({
        SOMA_DATABASE_URL: 'mysql://127.0.0.1/soma',
        SOMA_DATABASE_OWNER_URL: PG.SOMA_DATABASE_OWNER_URL,
      }),
    ).toEqual([
      {
        variable: 'SOMA_DATABASE_URL',
        message: 'must be a URL, e.g. postgres://soma_app:…@127.0.0.1:5432/soma',
      },
    ]);
  });

  it('needs a PostgreSQL server for Temporal (the worker process shares it) and an owner URL with it', () => {
    expect(issuesOf({ SOMA_TEMPORAL_ADDRESS: '127.0.0.1:7233' })).toEqual([
      {
        variable: 'SOMA_DATABASE_URL',
        message:
          'required with SOMA_TEMPORAL_ADDRESS: capsule runs then execute in `npm run worker`, which must reach the same PostgreSQL server',
      },
    ]);
    expect(issuesOf({ SOMA_DATABASE_URL: PG.SOMA_DATABASE_URL })).toEqual([
      {
        variable: 'SOMA_DATABASE_OWNER_URL',
        message: 'required with SOMA_DATABASE_URL (migrations run as the owner of the schema)',
      },
    ]);
  });

  it('names the path inside a JSON variable', () => {
    expect(
      issuesOf({ SOMA_OIDC_ISSUERS: '[{"issuer":"https://idp.test","audience":"a","tenants":[]}]' }),
    ).toEqual([
      {
        variable: 'SOMA_OIDC_ISSUERS[0].tenants',
        message: 'bind each external issuer to at least one tenant',
      },
    ]);
    const [notJson] = issuesOf({ SOMA_RATE_LIMITS: '{nope' });
    expect(notJson!.variable).toBe('SOMA_RATE_LIMITS');
    expect(notJson!.message).toMatch(/^not JSON: /);
  });

  it('says what the embeddings server needs', () => {
    const [issue] = issuesOf({ SOMA_EMBEDDINGS_BASE_URL: 'http://127.0.0.1:8081/v1' });
    expect(issue!.variable).toBe('SOMA_EMBEDDINGS_MODEL');
    expect(issue!.message).toContain(
      'SOMA_EMBEDDINGS_BASE_URL needs SOMA_EMBEDDINGS_MODEL and SOMA_EMBEDDINGS_DIMENSION',
    );
  });

  it('formats every issue into one message for stderr', () => {
    try {
      readConfig(PlatformEnv, { SOMA_PORT: 'eighty' }, 'npm start');
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toMatch(/^npm start: invalid configuration\n {2}SOMA_PORT: /);
    }
  });
});

describe('worker configuration (WorkerEnv)', () => {
  it('needs an engine and a database, and Temporal needs its address', () => {
    expect(issuesOf({}, WorkerEnv).map((i) => i.variable)).toEqual([
      'SOMA_WORKER_ENGINE',
      'SOMA_DATABASE_URL',
    ]);
    expect(
      issuesOf({ SOMA_WORKER_ENGINE: 'temporal', SOMA_DATABASE_URL: PG.SOMA_DATABASE_URL }, WorkerEnv),
    ).toEqual([
      {
        variable: 'SOMA_TEMPORAL_ADDRESS',
        message: 'required with SOMA_WORKER_ENGINE=temporal (host:port of the Temporal frontend)',
      },
    ]);
    expect(
      issuesOf({ SOMA_WORKER_ENGINE: 'journal', SOMA_DATABASE_URL: PG.SOMA_DATABASE_URL, ...S3 }, WorkerEnv),
    ).toEqual([]);
  });
});
