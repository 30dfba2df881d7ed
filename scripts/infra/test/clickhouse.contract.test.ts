import { randomUUID } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createChdbClickHouseClient } from '../clickhouse/chdbClient';

/**
 * The harness ClickHouse engine (chDB, the ClickHouse engine in-process) through the client the
 * product uses, `@clickhouse/client`: MergeTree tables on disk, JSONEachRow inserts, server-side
 * query parameters, DateTime64 and Map columns. What it cannot show (no server: no network, no
 * users or passwords) is listed in docs/infrastructure.md.
 */
const clickhouse = inject('clickhouse');
// chDB holds one on-disk path per process; this file uses one, removed at the end.
const path = join(clickhouse.dataDir, `contract-${randomUUID()}`);
let client: ClickHouseClient;

const open = () => createChdbClickHouseClient({ chdbDir: clickhouse.chdbDir, path });

interface UsageRow {
  tenant: string;
  model: string;
  at: string;
  tokens: number;
  labels: Record<string, string>;
}

const rows: UsageRow[] = [
  { tenant: 't1', model: 'small', at: '2026-01-01 10:00:00.125', tokens: 10, labels: { capsule: 'a' } },
  { tenant: 't1', model: 'small', at: '2026-01-01 10:00:01.250', tokens: 20, labels: { capsule: 'b' } },
  { tenant: 't1', model: 'large', at: '2026-01-01 11:30:00.000', tokens: 300, labels: { capsule: 'a' } },
  { tenant: 't2', model: 'small', at: '2026-01-02 09:00:00.999', tokens: 5, labels: {} },
  {
    tenant: 't2',
    model: 'large',
    at: '2026-01-02 09:00:01.000',
    tokens: 7,
    labels: { capsule: 'c', run: 'r1' },
  },
];

beforeAll(async () => {
  client = open();
  await client.command({
    query: `CREATE TABLE usage (
      tenant LowCardinality(String),
      model String,
      at DateTime64(3, 'UTC'),
      tokens UInt32,
      labels Map(String, String)
    ) ENGINE = MergeTree ORDER BY (tenant, at)`,
  });
});

afterAll(async () => {
  await client?.close();
  rmSync(path, { recursive: true, force: true });
});

describe('harness ClickHouse engine (chDB) through @clickhouse/client', () => {
  it('is a modern ClickHouse (query parameters, DateTime64, Map need >= 20.x)', async () => {
    const result = await client.query({ query: 'SELECT version() AS version', format: 'JSONEachRow' });
    const [{ version }] = (await result.json()) as [{ version: string }];
    expect(version).toBe(clickhouse.version);
    expect(Number(version.split('.')[0])).toBeGreaterThanOrEqual(24);
    expect((await client.ping()).success).toBe(true);
  });

  it('inserts JSONEachRow rows into a MergeTree table and reads them back typed', async () => {
    await client.insert({ table: 'usage', values: rows, format: 'JSONEachRow' });
    const result = await client.query({
      query: 'SELECT tenant, model, at, tokens, labels FROM usage ORDER BY tenant, at',
      format: 'JSONEachRow',
    });
    expect(await result.json()).toEqual(rows);
    const engine = await client.query({
      query: "SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = 'usage'",
      format: 'JSONEachRow',
    });
    expect(await engine.json()).toEqual([{ engine: 'MergeTree' }]);
  });

  it('aggregates with server-side query parameters ({name:Type})', async () => {
    const result = await client.query({
      query: `SELECT model, sum(tokens) AS total, count() AS calls
              FROM usage
              WHERE tenant = {tenant:String} AND tokens >= {min:UInt32} AND at >= {from:DateTime64(3, 'UTC')}
              GROUP BY model ORDER BY model`,
      query_params: { tenant: 't1', min: 15, from: '2026-01-01 10:00:01.000' },
      format: 'JSONEachRow',
    });
    // UInt64 aggregates come back as JSON numbers: output_format_json_quote_64bit_integers is 0 by
    // default in ClickHouse 26 (a server of the same version answers the same).
    expect(await result.json()).toEqual([
      { model: 'large', total: 300, calls: 1 },
      { model: 'small', total: 20, calls: 1 },
    ]);
  });

  it('keeps DateTime64 millisecond precision and does time bucketing', async () => {
    const result = await client.query({
      query: `SELECT toStartOfHour(at) AS hour, sum(tokens) AS total, max(at) AS last
              FROM usage WHERE tenant = {tenant:String} GROUP BY hour ORDER BY hour`,
      query_params: { tenant: 't1' },
      format: 'JSONEachRow',
    });
    expect(await result.json()).toEqual([
      { hour: '2026-01-01 10:00:00', total: 30, last: '2026-01-01 10:00:01.250' },
      { hour: '2026-01-01 11:00:00', total: 300, last: '2026-01-01 11:30:00.000' },
    ]);
    const diff = await client.query({
      query: `SELECT dateDiff('millisecond', min(at), max(at)) AS ms FROM usage WHERE tenant = {t:String}`,
      query_params: { t: 't2' },
      format: 'JSONEachRow',
    });
    expect(await diff.json()).toEqual([{ ms: 1 }]);
  });

  it('queries Map columns by key and passes a Map as a parameter', async () => {
    const byKey = await client.query({
      query: `SELECT labels['capsule'] AS capsule, sum(tokens) AS total FROM usage
              WHERE mapContains(labels, 'capsule') GROUP BY capsule ORDER BY capsule`,
      format: 'JSONEachRow',
    });
    expect(await byKey.json()).toEqual([
      { capsule: 'a', total: 310 },
      { capsule: 'b', total: 20 },
      { capsule: 'c', total: 7 },
    ]);
    const param = await client.query({
      query: 'SELECT count() AS n FROM usage WHERE labels = {labels:Map(String, String)}',
      query_params: { labels: { capsule: 'c', run: 'r1' } },
      format: 'JSONEachRow',
    });
    expect(await param.json()).toEqual([{ n: 1 }]);
  });

  it('streams a result row by row', async () => {
    const result = await client.query({
      query: 'SELECT number AS n FROM numbers({count:UInt32})',
      query_params: { count: 1000 },
      format: 'JSONEachRow',
    });
    let count = 0;
    let sum = 0;
    for await (const batch of result.stream<{ n: number }>()) {
      for (const row of batch) {
        count++;
        sum += row.json().n;
      }
    }
    expect(count).toBe(1000);
    expect(sum).toBe(499_500);
  });

  it('rejects bad SQL and bad parameters with the ClickHouse error, storing nothing', async () => {
    // Same code and type as a server's error. Not `instanceof ClickHouseError` of '@clickhouse/client':
    // chDB builds it with its own copy of the client's common code.
    await expect(client.query({ query: 'SELEC 1', format: 'JSONEachRow' })).rejects.toMatchObject({
      code: '62',
      type: 'SYNTAX_ERROR',
      message: expect.stringContaining('Syntax error'),
    });
    await expect(
      client.query({
        query: 'SELECT {n:UInt32} AS n',
        query_params: { n: 'not a number' },
        format: 'JSONEachRow',
      }),
    ).rejects.toThrow(/UInt32|parse|Cannot/i);
    await expect(
      client.insert({ table: 'usage', values: [{ tenant: 't3', tokens: 'many' }], format: 'JSONEachRow' }),
    ).rejects.toThrow();
    const count = await client.query({
      query: "SELECT count() AS n FROM usage WHERE tenant = 't3'",
      format: 'JSONEachRow',
    });
    expect(await count.json()).toEqual([{ n: 0 }]);
  });

  it('keeps the MergeTree data on disk across sessions', async () => {
    await client.close();
    expect(existsSync(path)).toBe(true);
    client = open();
    const result = await client.query({ query: 'SELECT count() AS n FROM usage', format: 'JSONEachRow' });
    expect(await result.json()).toEqual([{ n: rows.length }]);
  });
});
