#!/usr/bin/env node
// An MCP server on the official SDK's server package (@modelcontextprotocol/server v2), which
// serves the 2026-07-28 revision (and 2025 clients through its fallback). No server published on
// npm speaks 2026-07-28 yet — the reference servers are all on SDK v1 — and none paginates its
// lists, so this one exists to exercise both against a real SDK server, over stdio or
// Streamable HTTP. Plain JavaScript so it runs with `node`, without a TypeScript loader.
//
//   node paginatedServer.mjs          stdio
//   node paginatedServer.mjs --http   Streamable HTTP on 127.0.0.1, a free port; prints `listening <url>`
//   ... --http --token T                  and answers 401 to requests without `authorization: Bearer T`
import { createServer } from 'node:http';
import { createMcpHandler, Server } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';

const PAGE_SIZE = 2;

const TOOLS = [
  {
    name: 'echo',
    description: 'Returns its message',
    inputSchema: objectSchema({ message: { type: 'string' } }),
  },
  {
    name: 'add',
    description: 'Adds two numbers; structured output',
    inputSchema: objectSchema({ a: { type: 'number' }, b: { type: 'number' } }),
    outputSchema: objectSchema({ sum: { type: 'number' } }),
  },
  {
    name: 'wrong-structure',
    description: 'Declares an output schema and answers something else',
    inputSchema: objectSchema({}),
    outputSchema: objectSchema({ sum: { type: 'number' } }),
  },
  {
    name: 'slow',
    description: 'Waits `ms` milliseconds',
    inputSchema: objectSchema({ ms: { type: 'number' } }),
  },
  { name: 'crash', description: 'Exits the server process mid-call', inputSchema: objectSchema({}) },
  {
    name: 'cancellations',
    description: 'How many `slow` calls were cancelled by their client',
    inputSchema: objectSchema({}),
  },
];
// Counted per process: the HTTP mode builds a server per request.
let cancellations = 0;
const RESOURCES = [1, 2, 3, 4, 5].map((n) => ({
  uri: `memo://${n}`,
  name: `memo ${n}`,
  mimeType: 'text/plain',
}));
const PROMPTS = ['greet', 'summarize', 'translate'].map((name) => ({
  name,
  description: `the ${name} prompt`,
  arguments: [{ name: 'topic', required: false }],
}));

function objectSchema(properties) {
  return { type: 'object', properties, required: Object.keys(properties) };
}

function page(items, cursor) {
  const start = cursor === undefined ? 0 : Number.parseInt(cursor, 10);
  if (!Number.isInteger(start) || start < 0 || start > items.length) {
    const error = new Error(`invalid cursor ${cursor}`);
    error.code = -32602;
    throw error;
  }
  const end = start + PAGE_SIZE;
  return { items: items.slice(start, end), ...(end < items.length ? { nextCursor: String(end) } : {}) };
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      cancellations++;
      clearTimeout(timer);
      reject(new Error('cancelled'));
    });
  });
}

function buildServer() {
  const server = new Server(
    { name: 'somaagent-paginated-test-server', version: '1.0.0' },
    { capabilities: { tools: {}, resources: {}, prompts: {} } },
  );
  server.setRequestHandler('tools/list', (request) => {
    const { items, nextCursor } = page(TOOLS, request.params?.cursor);
    return { tools: items, ...(nextCursor ? { nextCursor } : {}) };
  });
  server.setRequestHandler('tools/call', async (request, ctx) => {
    const args = request.params.arguments ?? {};
    switch (request.params.name) {
      case 'echo':
        return { content: [{ type: 'text', text: String(args.message) }] };
      case 'add': {
        const sum = Number(args.a) + Number(args.b);
        return { content: [{ type: 'text', text: String(sum) }], structuredContent: { sum } };
      }
      case 'wrong-structure':
        return { content: [{ type: 'text', text: 'oops' }], structuredContent: { sum: 'not a number' } };
      case 'slow':
        await sleep(Number(args.ms ?? 1000), ctx.mcpReq.signal);
        return { content: [{ type: 'text', text: `waited ${args.ms} ms` }] };
      case 'cancellations':
        return { content: [{ type: 'text', text: String(cancellations) }] };
      case 'crash':
        setTimeout(() => process.exit(3), 20);
        return await new Promise(() => {});
      default:
        return { content: [{ type: 'text', text: `unknown tool ${request.params.name}` }], isError: true };
    }
  });
  server.setRequestHandler('resources/list', (request) => {
    const { items, nextCursor } = page(RESOURCES, request.params?.cursor);
    return { resources: items, ...(nextCursor ? { nextCursor } : {}) };
  });
  server.setRequestHandler('resources/read', (request) => {
    const resource = RESOURCES.find((candidate) => candidate.uri === request.params.uri);
    if (!resource) {
      const error = new Error(`no resource ${request.params.uri}`);
      error.code = -32002;
      throw error;
    }
    return {
      contents: [{ uri: resource.uri, mimeType: 'text/plain', text: `contents of ${resource.name}` }],
    };
  });
  server.setRequestHandler('prompts/list', (request) => {
    const { items, nextCursor } = page(PROMPTS, request.params?.cursor);
    return { prompts: items, ...(nextCursor ? { nextCursor } : {}) };
  });
  server.setRequestHandler('prompts/get', (request) => ({
    messages: [
      {
        role: 'user',
        content: {
          type: 'text',
          text: `${request.params.name} about ${request.params.arguments?.topic ?? 'nothing'}`,
        },
      },
    ],
  }));
  return server;
}

if (process.argv.includes('--http')) {
  const handler = createMcpHandler(() => buildServer());
  const tokenAt = process.argv.indexOf('--token');
  const token = tokenAt > 0 ? process.argv[tokenAt + 1] : undefined;
  const http = createServer(async (req, res) => {
    if (token && req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401, { 'www-authenticate': 'Bearer', 'content-type': 'application/json' });
      res.end('{"error":"invalid_token"}');
      return;
    }
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const request = new Request(`http://127.0.0.1${req.url}`, {
      method: req.method,
      headers: Object.entries(req.headers).flatMap(([name, value]) =>
        value === undefined ? [] : (Array.isArray(value) ? value : [value]).map((v) => [name, v]),
      ),
      ...(body.length > 0 ? { body } : {}),
    });
    const response = await handler.fetch(request);
    res.writeHead(response.status, Object.fromEntries(response.headers));
    if (response.body) for await (const chunk of response.body) res.write(chunk);
    res.end();
  });
  http.listen(0, '127.0.0.1', () => {
    const { port } = http.address();
    process.stdout.write(`listening http://127.0.0.1:${port}/mcp\n`);
  });
} else {
  serveStdio(() => buildServer());
}
