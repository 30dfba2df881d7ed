// Values tests/setup/globalSetup.ts hands to test files through vitest's `inject()`.
import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The harness PostgreSQL server (engine `postgres`). */
    postgres: {
      /** `soma_owner`: superuser, owns the schema, runs migrations. */
      ownerUrl: string;
      /** `soma_app`: NOSUPERUSER NOBYPASSRLS NOCREATEDB, owns nothing. */
      appUrl: string;
    };
    /** The harness OpenID Provider (engine `oidc`). */
    oidc: {
      issuer: string;
      clientId: string;
      clientSecret: string;
      /** Resource indicator to request tokens for (`resource=` form parameter); also the default. */
      resource: string;
      /** `aud` of the access tokens. */
      audience: string;
      /** `soma_tenant` of the client's tokens when the request names no tenant. */
      tenant: string;
    };
    /** The harness OpenAI-compatible LLM server (engine `llm`: llama.cpp serving soma-tiny, untrained). */
    llm: {
      /** `http://127.0.0.1:<port>/v1`: the `baseURL` of the `openai` client. */
      baseUrl: string;
      /** The `model` to request: `soma-tiny`. */
      model: string;
      apiKey: string;
    };
    /** The harness OPA server (engine `opa`), serving the bundle in scripts/infra/opa/bundle. */
    opa: {
      /** `http://127.0.0.1:<port>`: REST API (`POST /v1/data/<path>`). */
      url: string;
    };
    /** The harness Temporal dev server (engine `temporal`). */
    temporal: {
      /** `127.0.0.1:<port>`: gRPC frontend, for `Connection.connect` / `NativeConnection.connect`. */
      address: string;
      namespace: string;
    };
    /** The harness Redis server (engine `redis`: Debian redis-server, requirepass, appendonly). */
    redis: {
      /** `redis://:<password>@127.0.0.1:<port>`: `new Redis(url)` (ioredis). */
      url: string;
    };
    /** The harness S3 server (engine `minio`: MinIO, credentials enforced). Use path-style URLs. */
    s3: {
      /** `http://127.0.0.1:<port>`: the S3 API (`forcePathStyle: true`). */
      endpoint: string;
      accessKeyId: string;
      secretAccessKey: string;
      region: string;
    };
    /** The harness Kafka broker (engine `kafka`: Apache Kafka, single-node KRaft, PLAINTEXT). */
    kafka: {
      /** `['127.0.0.1:<port>']`: the `brokers` of `new Kafka({ brokers })` (kafkajs). */
      brokers: string[];
    };
    /**
     * The harness ClickHouse engine (engine `clickhouse`): chDB in-process, no server. Build a
     * client with `createChdbClickHouseClient` (scripts/infra/clickhouse/chdbClient.ts).
     */
    clickhouse: {
      /** `TOOLS_DIR/chdb-<version>`: where chDB is installed. */
      chdbDir: string;
      /** Folder for tests' on-disk sessions (one sub-folder each). */
      dataDir: string;
      /** ClickHouse version of the engine, e.g. `26.7.2.1`. */
      version: string;
    };
  }
}
