import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { McpClient, type McpError, McpErrorCode, type McpProtocolError } from '../src/index';
import { stdioServer } from './serverProcesses';

// @modelcontextprotocol/server-postgres from npm (0.6.2, on SDK 1.0.1: protocol 2024-11-05, the
// oldest revision the 2025-11-25 handshake accepts) against the harness PostgreSQL, on a fresh
// database of its own that is dropped afterwards.

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

describe('@modelcontextprotocol/server-postgres on the harness PostgreSQL', () => {
  const { ownerUrl } = inject('postgres');
  const database = `soma_t_mcp_${randomBytes(5).toString('hex')}`;
  const databaseUrl = (() => {
    const url = new URL(ownerUrl);
    url.pathname = `/${database}`;
    return url.toString();
  })();
  let client: McpClient;

  beforeAll(async () => {
    await withClient(ownerUrl, (admin) => admin.query(`CREATE DATABASE ${database} OWNER soma_owner`));
    await withClient(databaseUrl, async (db) => {
      await db.query('CREATE TABLE planets (name text PRIMARY KEY, moons int NOT NULL)');
      await db.query(`INSERT INTO planets VALUES ('Mercury', 0), ('Earth', 1), ('Mars', 2)`);
    });
    client = new McpClient({
      transport: stdioServer('@modelcontextprotocol/server-postgres', [databaseUrl]),
      label: 'postgres',
    });
    await client.connect();
  });

  afterAll(async () => {
    await client?.close();
    await withClient(ownerUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
  });

  it('connects on the 2024-11-05 revision the server offers', () => {
    expect(client.serverInfo).toMatchObject({
      name: 'example-servers/postgres',
      protocolVersion: '2024-11-05',
      era: 'legacy',
    });
  });

  it('lists the tables as resources and reads a table’s schema', async () => {
    const resources = await client.listResources();
    const planets = resources.find((resource) => resource.uri.endsWith('/planets/schema'));
    expect(planets).toBeDefined();
    const read = await client.readResource(planets?.uri ?? '');
    const first = read.contents[0];
    const columns = JSON.parse(first && 'text' in first ? first.text : '[]') as { column_name: string }[];
    expect(columns.map((column) => column.column_name).sort()).toEqual(['moons', 'name']);
  });

  it('runs a read-only query', async () => {
    expect((await client.listTools()).map((tool) => tool.name)).toEqual(['query']);
    const result = await client.callTool('query', {
      sql: 'SELECT name, moons FROM planets WHERE moons > 0 ORDER BY name',
    });
    const first = result.content[0];
    expect(JSON.parse(first && first.type === 'text' ? first.text : 'null')).toEqual([
      { name: 'Earth', moons: 1 },
      { name: 'Mars', moons: 2 },
    ]);
  });

  it('a write is refused by the server’s read-only transaction: a protocol error carrying PostgreSQL’s message', async () => {
    let error: McpError | undefined;
    try {
      await client.callTool('query', { sql: `INSERT INTO planets VALUES ('Pluto', 5)` });
    } catch (caught) {
      error = caught as McpError;
    }
    expect(error?.code).toBe(McpErrorCode.PROTOCOL);
    expect((error as McpProtocolError).reason).toBe('SERVER_ERROR');
    expect(error?.message).toContain('read-only transaction');
    const count = await withClient(databaseUrl, (db) => db.query('SELECT count(*)::int AS n FROM planets'));
    expect(count.rows[0]).toEqual({ n: 3 });
    // The connection survives a failed call.
    await client.ping();
  });
});
