import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McpClient, type McpError, McpErrorCode, type McpTransportConfig } from '../src/index';
import {
  binOf,
  closedPort,
  type HttpServerProcess,
  isRunning,
  startHttpServer,
  stdioServer,
} from './serverProcesses';

// @modelcontextprotocol/server-everything, the reference server that exercises the whole
// protocol, from npm. It is built on SDK v1, so it speaks the 2025-11-25 revision: every
// connection here goes through the 2026-07-28 probe (`protocol: 'auto'`) and falls back.
const EVERYTHING = '@modelcontextprotocol/server-everything';

async function failure(promise: Promise<unknown>): Promise<McpError> {
  try {
    await promise;
  } catch (error) {
    return error as McpError;
  }
  throw new Error('expected the call to fail');
}

interface Variant {
  name: string;
  transport: () => McpTransportConfig;
  /** Kills the server the way a crash would (SIGKILL), while a call is in flight. */
  crash: (client: McpClient) => Promise<void>;
  /** Brings a crashed server back, if the transport needs it (stdio restarts on connect()). */
  revive: () => Promise<void>;
}

let http: HttpServerProcess | undefined;
const httpUrl = () => {
  if (!http) throw new Error('the HTTP server is not running');
  return http.url;
};

const variants: Variant[] = [
  {
    name: 'stdio',
    transport: () => stdioServer(EVERYTHING, ['stdio']),
    crash: async (client) => {
      const pid = client.pid;
      if (pid === undefined) throw new Error('no pid');
      process.kill(pid, 'SIGKILL');
    },
    revive: async () => {},
  },
  {
    name: 'Streamable HTTP',
    transport: () => ({ kind: 'http', url: httpUrl() }),
    crash: async () => {
      await http?.kill('SIGKILL');
    },
    revive: async () => {
      // Same port, so the client's configured URL stays valid.
      http = await startHttpServer({ script: binOf(EVERYTHING), args: ['streamableHttp'], port: http?.port });
    },
  },
];

beforeAll(async () => {
  http = await startHttpServer({ script: binOf(EVERYTHING), args: ['streamableHttp'] });
});

afterAll(async () => {
  await http?.[Symbol.asyncDispose]();
});

describe.each(variants)('server-everything over $name', (variant) => {
  let client: McpClient;

  beforeAll(async () => {
    client = new McpClient({ transport: variant.transport(), label: 'everything', requestTimeoutMs: 20_000 });
    await client.connect();
  });

  afterAll(async () => {
    await client.close();
  });

  it('falls back from the 2026-07-28 probe to the 2025-11-25 handshake and reports the server', () => {
    expect(client.serverInfo).toMatchObject({
      name: 'mcp-servers/everything',
      protocolVersion: '2025-11-25',
      era: 'legacy',
      capabilities: { tools: {}, resources: {}, prompts: {} },
    });
    expect(client.serverInfo?.instructions).toContain('Everything Server');
  });

  it('lists tools and calls one', async () => {
    const tools = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(
      expect.arrayContaining(['echo', 'get-sum', 'get-structured-content', 'trigger-long-running-operation']),
    );
    const result = await client.callTool('echo', { message: 'hello from somaagent' });
    expect(result.isError).toBeFalsy();
    expect(result.content).toEqual([{ type: 'text', text: 'Echo: hello from somaagent' }]);
  });

  it('returns structured output, validated against the tool’s outputSchema', async () => {
    const tool = (await client.listTools()).find((candidate) => candidate.name === 'get-structured-content');
    expect(tool?.outputSchema).toMatchObject({ type: 'object' });
    const result = await client.callTool('get-structured-content', { location: 'Chicago' });
    expect(result.structuredContent).toEqual({
      temperature: 36,
      conditions: 'Light rain / drizzle',
      humidity: 82,
    });
  });

  it('reports an unknown tool and invalid arguments as tool errors, not exceptions', async () => {
    const unknown = await client.callTool('no-such-tool', {});
    expect(unknown.isError).toBe(true);
    expect(JSON.stringify(unknown.content)).toContain('no-such-tool');
    const invalid = await client.callTool('get-sum', { a: 'one', b: 2 });
    expect(invalid.isError).toBe(true);
    expect(JSON.stringify(invalid.content)).toMatch(/Invalid arguments|expected number/);
  });

  it('lists and reads resources and resource templates', async () => {
    const resources = await client.listResources();
    expect(resources.length).toBeGreaterThan(0);
    const first = resources[0];
    if (!first) throw new Error('no resource');
    const read = await client.readResource(first.uri);
    expect(read.contents[0]).toMatchObject({ uri: first.uri });
    const templates = await client.listResourceTemplates();
    expect(templates.map((template) => template.uriTemplate)).toContain(
      'demo://resource/dynamic/text/{resourceId}',
    );
    const dynamic = await client.readResource('demo://resource/dynamic/text/7');
    expect(dynamic.contents[0]).toMatchObject({ uri: 'demo://resource/dynamic/text/7' });
  });

  it('lists prompts and gets one with arguments', async () => {
    const prompts = await client.listPrompts();
    expect(prompts.map((prompt) => prompt.name)).toEqual(
      expect.arrayContaining(['simple-prompt', 'args-prompt']),
    );
    const prompt = await client.getPrompt('args-prompt', { city: 'Lisbon' });
    expect(JSON.stringify(prompt.messages)).toContain('Lisbon');
  });

  it('the same page-by-page: the first page has everything (this server does not paginate)', async () => {
    const page = await client.listToolsPage(undefined);
    expect(page.nextCursor).toBeUndefined();
    expect(page.items.length).toBe((await client.listTools()).length);
  });

  it('delivers progress notifications of a long call', async () => {
    const progress: number[] = [];
    const result = await client.callTool(
      'trigger-long-running-operation',
      { duration: 1, steps: 4 },
      { onProgress: (update) => progress.push(update.progress) },
    );
    expect(result.isError).toBeFalsy();
    expect(progress.length).toBeGreaterThan(0);
  });

  it('times out a slow call with ERR_MCP_TIMEOUT and stays usable', async () => {
    const error = await failure(
      client.callTool('trigger-long-running-operation', { duration: 10, steps: 10 }, { timeoutMs: 300 }),
    );
    expect(error.code).toBe(McpErrorCode.TIMEOUT);
    expect(error.message).toContain('300 ms');
    await client.ping();
    expect((await client.callTool('echo', { message: 'still here' })).content).toEqual([
      { type: 'text', text: 'Echo: still here' },
    ]);
  });

  it('cancels a call when the caller aborts, with ERR_MCP_ABORTED, and stays usable', async () => {
    const controller = new AbortController();
    const call = client.callTool(
      'trigger-long-running-operation',
      { duration: 10, steps: 10 },
      { signal: controller.signal },
    );
    setTimeout(() => controller.abort(), 200);
    expect((await failure(call)).code).toBe(McpErrorCode.ABORTED);
    const already = await failure(client.callTool('echo', { message: 'x' }, { signal: AbortSignal.abort() }));
    expect(already.code).toBe(McpErrorCode.ABORTED);
    await client.ping();
  });

  it('a server crashing mid-call gives ERR_MCP_CONNECTION_LOST; after connect() the client works again', async () => {
    const pidBefore = client.pid;
    const call = client.callTool(
      'trigger-long-running-operation',
      { duration: 10, steps: 10 },
      { timeoutMs: 15_000 },
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    await variant.crash(client);
    const error = await failure(call);
    expect(error.code).toBe(McpErrorCode.CONNECTION_LOST);
    expect(error.method).toBe('tools/call');

    await variant.revive();
    await client.connect();
    expect((await client.callTool('echo', { message: 'back' })).content).toEqual([
      { type: 'text', text: 'Echo: back' },
    ]);
    if (pidBefore !== undefined) {
      expect(isRunning(pidBefore)).toBe(false);
      expect(client.pid).not.toBe(pidBefore);
    }
  });

  it('close() ends the session; later calls fail with ERR_MCP_NOT_CONNECTED', async () => {
    const other = new McpClient({ transport: variant.transport(), protocol: '2025-11-25' });
    await other.connect();
    const pid = other.pid;
    await other.close();
    expect((await failure(other.listTools())).code).toBe(McpErrorCode.NOT_CONNECTED);
    if (pid !== undefined) expect(isRunning(pid)).toBe(false);
  });
});

describe('a server that is not there', () => {
  it('stdio: a command that cannot start gives ERR_MCP_SERVER_UNAVAILABLE', async () => {
    const client = new McpClient({ transport: { kind: 'stdio', command: '/nonexistent/mcp-server' } });
    const error = await failure(client.connect());
    expect(error.code).toBe(McpErrorCode.SERVER_UNAVAILABLE);
    expect(error.message).toContain('/nonexistent/mcp-server');
    expect(client.state).toBe('idle');
  });

  it('stdio: a server that exits before the handshake gives ERR_MCP_SERVER_UNAVAILABLE, quoting its stderr', async () => {
    const client = new McpClient({
      transport: {
        kind: 'stdio',
        command: process.execPath,
        args: ['-e', 'console.error("no config, giving up"); process.exit(2)'],
      },
      protocol: '2025-11-25',
    });
    const error = await failure(client.connect());
    expect(error.code).toBe(McpErrorCode.SERVER_UNAVAILABLE);
    expect(error.message).toContain('no config, giving up');
  });

  it.each(['auto', '2025-11-25'] as const)(
    'Streamable HTTP, protocol %s: a URL with no MCP endpoint (HTTP 404) gives ERR_MCP_SERVER_UNAVAILABLE',
    async (protocol) => {
      const client = new McpClient({
        transport: { kind: 'http', url: httpUrl().replace(/\/mcp$/, '/not-mcp') },
        protocol,
      });
      const error = await failure(client.connect());
      expect(error.code).toBe(McpErrorCode.SERVER_UNAVAILABLE);
      expect(error.message).toContain('HTTP 404');
    },
  );

  it('Streamable HTTP: a closed port gives ERR_MCP_SERVER_UNAVAILABLE', async () => {
    const port = await closedPort();
    const client = new McpClient({ transport: { kind: 'http', url: `http://127.0.0.1:${port}/mcp` } });
    const error = await failure(client.connect());
    expect(error.code).toBe(McpErrorCode.SERVER_UNAVAILABLE);
  });
});
