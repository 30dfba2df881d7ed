import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  McpClient,
  type McpError,
  McpErrorCode,
  type McpProtocolChoice,
  type McpProtocolError,
  type McpTransportConfig,
  toSomaError,
} from '../src/index';
import {
  binOf,
  type HttpServerProcess,
  PAGINATED_SERVER,
  startHttpServer,
  stdioServer,
} from './serverProcesses';

// Both revisions against a real server on the official SDK's server package
// (test/servers/paginatedServer.mjs: it serves 2026-07-28 and, for 2025 clients, the 2025-11-25
// fallback), with lists of 6 tools, 5 resources and 3 prompts served 2 per page.

async function failure(promise: Promise<unknown>): Promise<McpError> {
  try {
    await promise;
  } catch (error) {
    return error as McpError;
  }
  throw new Error('expected the call to fail');
}

let http: HttpServerProcess | undefined;

beforeAll(async () => {
  http = await startHttpServer({ script: PAGINATED_SERVER, args: ['--http'] });
});

afterAll(async () => {
  await http?.[Symbol.asyncDispose]();
});

const stdio = (): McpTransportConfig => ({
  kind: 'stdio',
  command: process.execPath,
  args: [PAGINATED_SERVER],
});
const streamableHttp = (): McpTransportConfig => {
  if (!http) throw new Error('the HTTP server is not running');
  return { kind: 'http', url: http.url };
};

const cases: {
  transport: string;
  make: () => McpTransportConfig;
  protocol: McpProtocolChoice;
  expected: string;
}[] = [
  { transport: 'stdio', make: stdio, protocol: 'auto', expected: '2026-07-28' },
  { transport: 'stdio', make: stdio, protocol: '2026-07-28', expected: '2026-07-28' },
  { transport: 'stdio', make: stdio, protocol: '2025-11-25', expected: '2025-11-25' },
  { transport: 'Streamable HTTP', make: streamableHttp, protocol: 'auto', expected: '2026-07-28' },
  { transport: 'Streamable HTTP', make: streamableHttp, protocol: '2025-11-25', expected: '2025-11-25' },
];

describe.each(cases)('$transport, protocol $protocol', ({ make, protocol, expected }) => {
  let client: McpClient;

  beforeAll(async () => {
    client = new McpClient({ transport: make(), protocol, label: 'paginated' });
    await client.connect();
  });

  afterAll(async () => {
    await client.close();
  });

  it(`agrees on ${expected}`, () => {
    expect(client.serverInfo).toMatchObject({
      name: 'somaagent-paginated-test-server',
      protocolVersion: expected,
      era: expected === '2026-07-28' ? 'modern' : 'legacy',
    });
  });

  it('walks every page of tools, resources and prompts', async () => {
    expect((await client.listTools()).map((tool) => tool.name)).toEqual([
      'echo',
      'add',
      'wrong-structure',
      'slow',
      'crash',
      'cancellations',
    ]);
    expect((await client.listResources()).map((resource) => resource.uri)).toEqual([
      'memo://1',
      'memo://2',
      'memo://3',
      'memo://4',
      'memo://5',
    ]);
    expect((await client.listPrompts()).map((prompt) => prompt.name)).toEqual([
      'greet',
      'summarize',
      'translate',
    ]);
  });

  it('pages by hand with the cursors the server hands out', async () => {
    const first = await client.listToolsPage(undefined);
    expect(first.items.map((tool) => tool.name)).toEqual(['echo', 'add']);
    expect(first.nextCursor).toBeDefined();
    const second = await client.listToolsPage(first.nextCursor);
    expect(second.items.map((tool) => tool.name)).toEqual(['wrong-structure', 'slow']);
    const last = await client.listToolsPage(second.nextCursor);
    expect(last.items.map((tool) => tool.name)).toEqual(['crash', 'cancellations']);
    expect(last.nextCursor).toBeUndefined();
    const resources = await client.listResourcesPage(undefined);
    expect(resources.items).toHaveLength(2);
    const prompts = await client.listPromptsPage((await client.listPromptsPage(undefined)).nextCursor);
    expect(prompts.items.map((prompt) => prompt.name)).toEqual(['translate']);
  });

  it('a cursor the server rejects is a protocol error with the server’s JSON-RPC code', async () => {
    const error = (await failure(client.listToolsPage('999'))) as McpProtocolError;
    expect(error.code).toBe(McpErrorCode.PROTOCOL);
    expect(error.reason).toBe('SERVER_ERROR');
    expect(error.rpcCode).toBe(-32602);
    expect(toSomaError(error).extensions.code).toBe('BAD_USER_INPUT');
  });

  it('returns structured output and rejects structured output that breaks the tool’s outputSchema', async () => {
    await client.listTools();
    expect((await client.callTool('add', { a: 2, b: 3 })).structuredContent).toEqual({ sum: 5 });
    const error = (await failure(client.callTool('wrong-structure', {}))) as McpProtocolError;
    expect(error.code).toBe(McpErrorCode.PROTOCOL);
    expect(error.reason).toBe('OUTPUT_SCHEMA_MISMATCH');
    expect(toSomaError(error).extensions.code).toBe('INTERNAL_SERVER_ERROR');
  });

  it('validates against a definition the caller pinned, without a listTools() first', async () => {
    const pinned = new McpClient({ transport: make(), protocol });
    try {
      await pinned.connect();
      const tool = {
        name: 'add',
        inputSchema: { type: 'object' as const },
        outputSchema: { type: 'object' as const, properties: { sum: { type: 'string' } }, required: ['sum'] },
      };
      const error = (await failure(pinned.callTool('add', { a: 1, b: 1 }, { tool }))) as McpProtocolError;
      expect(error.reason).toBe('OUTPUT_SCHEMA_MISMATCH');
    } finally {
      await pinned.close();
    }
  });

  it('reads a resource and gets a prompt', async () => {
    expect((await client.readResource('memo://4')).contents).toEqual([
      { uri: 'memo://4', mimeType: 'text/plain', text: 'contents of memo 4' },
    ]);
    const prompt = await client.getPrompt('summarize', { topic: 'MCP' });
    expect(prompt.messages).toEqual([
      { role: 'user', content: { type: 'text', text: 'summarize about MCP' } },
    ]);
  });

  it('times out and cancels, and stays usable', async () => {
    expect((await failure(client.callTool('slow', { ms: 5_000 }, { timeoutMs: 200 }))).code).toBe(
      McpErrorCode.TIMEOUT,
    );
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    expect((await failure(client.callTool('slow', { ms: 5_000 }, { signal: controller.signal }))).code).toBe(
      McpErrorCode.ABORTED,
    );
    expect((await client.callTool('echo', { message: 'ok' })).content).toEqual([
      { type: 'text', text: 'ok' },
    ]);
  });

  it('an abort reaches the server: its handler’s signal fires', async () => {
    const count = async () => {
      const first = (await client.callTool('cancellations', {})).content[0];
      return Number(first && first.type === 'text' ? first.text : Number.NaN);
    };
    const before = await count();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await failure(client.callTool('slow', { ms: 5_000 }, { signal: controller.signal }));
    await expect.poll(count, { timeout: 5_000 }).toBeGreaterThan(before);
  });
});

describe('a stdio server that exits in the middle of a call', () => {
  it.each(['auto', '2025-11-25'] as const)(
    'protocol %s: ERR_MCP_CONNECTION_LOST, then connect() starts a new process that answers',
    async (protocol) => {
      await using client = new McpClient({ transport: stdio(), protocol });
      await client.connect();
      const pid = client.pid;
      const error = await failure(client.callTool('crash', {}));
      expect(error.code).toBe(McpErrorCode.CONNECTION_LOST);
      expect(client.state).toBe('lost');
      expect((await failure(client.ping())).code).toBe(McpErrorCode.NOT_CONNECTED);
      expect(toSomaError(error, 'paginated').extensions).toMatchObject({
        code: 'UNAVAILABLE',
        mcpCode: 'ERR_MCP_CONNECTION_LOST',
        server: 'paginated',
      });
      await client.connect();
      expect(client.pid).not.toBe(pid);
      expect((await client.callTool('add', { a: 1, b: 2 })).structuredContent).toEqual({ sum: 3 });
    },
  );
});

describe('Streamable HTTP with a bearer token', () => {
  let guarded: HttpServerProcess | undefined;

  beforeAll(async () => {
    guarded = await startHttpServer({
      script: PAGINATED_SERVER,
      args: ['--http', '--token', 'tenant-secret'],
    });
  });

  afterAll(async () => {
    await guarded?.[Symbol.asyncDispose]();
  });

  it.each(['auto', '2025-11-25'] as const)('protocol %s: sends the configured headers', async (protocol) => {
    await using client = new McpClient({
      transport: {
        kind: 'http',
        url: guarded?.url ?? '',
        headers: { authorization: 'Bearer tenant-secret' },
      },
      protocol,
    });
    await client.connect();
    expect((await client.callTool('echo', { message: 'authorized' })).content).toEqual([
      { type: 'text', text: 'authorized' },
    ]);
  });

  it.each(['auto', '2025-11-25'] as const)(
    'protocol %s: a wrong token is ERR_MCP_UNAUTHORIZED, never echoing the token',
    async (protocol) => {
      const client = new McpClient({
        transport: {
          kind: 'http',
          url: guarded?.url ?? '',
          headers: { authorization: 'Bearer wrong-secret' },
        },
        protocol,
      });
      const error = await failure(client.connect());
      expect(error.code).toBe(McpErrorCode.UNAUTHORIZED);
      expect(error.message).toContain('HTTP 401');
      expect(error.message).not.toContain('wrong-secret');
      expect(toSomaError(error).extensions).toMatchObject({
        code: 'UNAVAILABLE',
        mcpCode: 'ERR_MCP_UNAUTHORIZED',
      });
    },
  );
});

describe('close() while connecting', () => {
  it.each(['auto', '2025-11-25'] as const)(
    'protocol %s: connect() fails with ERR_MCP_NOT_CONNECTED',
    async (protocol) => {
      const client = new McpClient({ transport: stdio(), protocol });
      const connecting = client.connect();
      await client.close();
      const error = await failure(connecting);
      expect(error.code).toBe(McpErrorCode.NOT_CONNECTED);
      expect(client.state).toBe('closed');
      expect((await failure(client.ping())).code).toBe(McpErrorCode.NOT_CONNECTED);
    },
  );
});

describe('pinning 2026-07-28 against a server that only speaks 2025-11-25', () => {
  it('fails the connect with a protocol error instead of falling back', async () => {
    const client = new McpClient({
      transport: stdioServer('@modelcontextprotocol/server-memory', [], {
        MEMORY_FILE_PATH: `${process.env.TMPDIR ?? '/tmp'}/somaagent-mcp-pin-${process.pid}.jsonl`,
      }),
      protocol: '2026-07-28',
      connectTimeoutMs: 5_000,
    });
    const error = await failure(client.connect());
    expect([McpErrorCode.PROTOCOL, McpErrorCode.TIMEOUT, McpErrorCode.SERVER_UNAVAILABLE]).toContain(
      error.code,
    );
    expect(client.state).toBe('idle');
    expect(binOf('@modelcontextprotocol/server-memory')).toContain('server-memory');
  });
});
