import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type ClickHouseClient, type ClickHouseClientConfigOptions, createClient } from '@clickhouse/client';

/** The `connection` hook of `@clickhouse/client` (experimental upstream, made for chDB). */
type ClickHouseConnection = NonNullable<ClickHouseClientConfigOptions['connection']>;

interface ChdbConnectionModule {
  createChdbConnection(options: { path?: string }): ClickHouseConnection;
}

export interface ChdbClientOptions {
  /**
   * Folder the `clickhouse` engine installed chDB into (`TOOLS_DIR/chdb-<version>`, exported as
   * `SOMA_CLICKHOUSE_CHDB_DIR`): chDB is not a dependency of the root package.
   */
  chdbDir: string;
  /**
   * On-disk data folder of the embedded engine (MergeTree parts, metadata), or `':memory:'`. One
   * process holds one live path at a time: opening a second, different path while the first is
   * open is refused by chDB.
   */
  path: string;
  /** Passed to `createClient` (e.g. `clickhouse_settings`); `url` and auth have no meaning here. */
  client?: Omit<ClickHouseClientConfigOptions, 'connection' | 'url' | 'host' | 'username' | 'password'>;
}

/**
 * A `@clickhouse/client` whose queries run in this process on chDB (the ClickHouse engine as a
 * library) instead of going over HTTP to a server: same client API, same SQL, query parameters,
 * formats and MergeTree storage; no network, no users or passwords.
 *
 * @example
 * const client = createChdbClickHouseClient({ chdbDir: process.env.SOMA_CLICKHOUSE_CHDB_DIR!, path: dir });
 * await client.command({ query: 'CREATE TABLE t (x UInt32) ENGINE = MergeTree ORDER BY x' });
 */
export function createChdbClickHouseClient(options: ChdbClientOptions): ClickHouseClient {
  const requireFromTools = createRequire(join(options.chdbDir, 'package.json'));
  const { createChdbConnection } = requireFromTools('chdb/connection') as ChdbConnectionModule;
  return createClient({ ...options.client, connection: createChdbConnection({ path: options.path }) });
}
