import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McpClient } from '../src/index';
import { stdioServer } from './serverProcesses';

// Two reference servers from npm, over stdio, each on a temp directory of its own.

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'somaagent-mcp-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const text = (result: { content: unknown }) => JSON.stringify(result.content);

describe('@modelcontextprotocol/server-filesystem on a temp directory', () => {
  let client: McpClient;
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(dir, 'fs-'));
    await writeFile(join(root, 'notes.txt'), 'first line\nsecond line\n');
    client = new McpClient({
      transport: stdioServer('@modelcontextprotocol/server-filesystem', [root]),
      label: 'filesystem',
    });
    await client.connect();
  });

  afterAll(async () => {
    await client.close();
  });

  it('speaks 2025-11-25 and offers tools only (no resources, no prompts)', async () => {
    expect(client.serverInfo).toMatchObject({
      name: 'secure-filesystem-server',
      protocolVersion: '2025-11-25',
    });
    const tools = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(
      expect.arrayContaining(['read_text_file', 'write_file', 'list_directory', 'list_allowed_directories']),
    );
    expect(await client.listResources()).toEqual([]);
    expect(await client.listPrompts()).toEqual([]);
  });

  it('reads a file, with structured output matching the tool’s outputSchema', async () => {
    await client.listTools();
    const result = await client.callTool('read_text_file', { path: join(root, 'notes.txt') });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({ content: 'first line\nsecond line\n' });
  });

  it('writes a file that is really on disk, and lists the directory', async () => {
    const written = await client.callTool('write_file', {
      path: join(root, 'from-mcp.txt'),
      content: 'written by somaagent',
    });
    expect(written.isError).toBeFalsy();
    expect(await readFile(join(root, 'from-mcp.txt'), 'utf8')).toBe('written by somaagent');
    const listing = await client.callTool('list_directory', { path: root });
    expect(text(listing)).toContain('from-mcp.txt');
    expect(text(listing)).toContain('notes.txt');
  });

  it('refuses a path outside its allowed directory as a tool error', async () => {
    const result = await client.callTool('read_text_file', { path: '/etc/hostname' });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/denied|outside allowed/i);
  });
});

describe('@modelcontextprotocol/server-memory with its graph in a temp file', () => {
  let memoryFile: string;
  const connect = async () => {
    const client = new McpClient({
      transport: stdioServer('@modelcontextprotocol/server-memory', [], { MEMORY_FILE_PATH: memoryFile }),
      label: 'memory',
    });
    await client.connect();
    await client.listTools();
    return client;
  };

  beforeAll(() => {
    memoryFile = join(dir, 'memory.jsonl');
  });

  it('creates entities and relations, and finds them again', async () => {
    await using client = await connect();
    const created = await client.callTool('create_entities', {
      entities: [
        { name: 'Ada', entityType: 'person', observations: ['wrote the first program'] },
        { name: 'Analytical Engine', entityType: 'machine', observations: ['designed by Babbage'] },
      ],
    });
    expect(created.isError).toBeFalsy();
    expect(created.structuredContent).toMatchObject({
      entities: [{ name: 'Ada' }, { name: 'Analytical Engine' }],
    });
    await client.callTool('create_relations', {
      relations: [{ from: 'Ada', to: 'Analytical Engine', relationType: 'programmed' }],
    });
    const found = await client.callTool('search_nodes', { query: 'program' });
    expect(found.structuredContent).toMatchObject({ entities: [{ name: 'Ada', entityType: 'person' }] });
  });

  it('a new server process reads the same graph back from the file', async () => {
    await using client = await connect();
    const graph = await client.callTool('read_graph', {});
    const structured = graph.structuredContent as {
      entities: { name: string }[];
      relations: { relationType: string }[];
    };
    expect(structured.entities.map((entity) => entity.name).sort()).toEqual(['Ada', 'Analytical Engine']);
    expect(structured.relations).toEqual([
      { from: 'Ada', to: 'Analytical Engine', relationType: 'programmed' },
    ]);
  });

  it('exposes the graph as a resource too', async () => {
    await using client = await connect();
    const resources = await client.listResources();
    expect(resources.length).toBeGreaterThan(0);
    const first = resources[0];
    if (!first) throw new Error('no resource');
    expect(JSON.stringify((await client.readResource(first.uri)).contents)).toContain('Ada');
  });
});
