import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createNodeHttpFetch } from '../src/nodeHttpFetch';

// A real loopback HTTP server per test; counts the connections it accepted.
let server: Server | undefined;
async function serve(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void) {
  const connections: Socket[] = [];
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => handler(req, res, body));
  });
  server.on('connection', (socket) => connections.push(socket));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections };
}
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

describe('createNodeHttpFetch', () => {
  it('sends method, headers and body, and answers a standard Response', async () => {
    const { url } = await serve((req, res, body) => {
      res.writeHead(201, { 'content-type': 'application/json', 'x-echo': String(req.headers['x-soma']) });
      res.end(JSON.stringify({ method: req.method, body, length: req.headers['content-length'] }));
    });
    const written: string[] = [];
    const fetch = createNodeHttpFetch({ onRequestWritten: (h) => written.push(h.get('x-soma') ?? '') });
    const response = await fetch(`${url}/echo`, {
      method: 'POST',
      headers: { 'x-soma': 'yes', 'content-type': 'application/json' },
      body: '{"é":1}',
    });
    expect(response).toBeInstanceOf(Response);
    expect(response.status).toBe(201);
    expect(response.headers.get('x-echo')).toBe('yes');
    // content-length counts bytes, not characters.
    expect(await response.json()).toEqual({ method: 'POST', body: '{"é":1}', length: '8' });
    expect(written).toEqual(['yes']);
  });

  it('streams the body as it arrives, and a 204 has none', async () => {
    let release!: () => void;
    const later = new Promise<void>((r) => {
      release = r;
    });
    const { url } = await serve((req, res) => {
      if (req.url === '/empty') {
        res.writeHead(204).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      void later.then(() => res.end('data: two\n\n'));
    });
    const fetch = createNodeHttpFetch();
    const response = await fetch(`${url}/stream`);
    const reader = response.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: one\n\n');
    release();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: two\n\n');
    expect((await reader.read()).done).toBe(true);
    const empty = await fetch(`${url}/empty`);
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
  });

  it('aborts: before the answer the call rejects AbortError; mid-body the read fails and the connection closes', async () => {
    const { url, connections } = await serve((req, res) => {
      if (req.url === '/never') return; // answers nothing
      res.writeHead(200);
      res.write('partial');
    });
    const fetch = createNodeHttpFetch();
    const early = new AbortController();
    const pending = fetch(`${url}/never`, { signal: early.signal });
    setTimeout(() => early.abort(), 20);
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });

    const late = new AbortController();
    const response = await fetch(`${url}/partial`, { signal: late.signal });
    const reader = response.body!.getReader();
    await reader.read();
    late.abort();
    await expect(reader.read()).rejects.toThrow();
    const last = connections.at(-1)!;
    await new Promise<void>((resolve) => (last.destroyed ? resolve() : last.once('close', () => resolve())));
    expect(last.destroyed).toBe(true);
  });

  it('keeps connections alive, unless the server closes them right after every answer (llama-server)', async () => {
    const keeps = await serve((_req, res) => res.end('ok'));
    const fetch = createNodeHttpFetch();
    for (let i = 0; i < 3; i++) expect(await (await fetch(keeps.url)).text()).toBe('ok');
    expect(keeps.connections).toHaveLength(1);
    server!.closeAllConnections();
    await new Promise((resolve) => server!.close(resolve));

    // Closes after each answer without `Connection: close`, as llama-server does after a stream.
    const closes = await serve((req, res) => {
      res.end('ok', () => req.socket.destroy());
    });
    const fresh = createNodeHttpFetch();
    // Back to back: the next request starts the moment the previous answer ends, so the first
    // ones may go out on the connection being closed (ChatModel retries those at once); once a
    // close right after an answer was seen, each request gets its own connection and none fails.
    for (let i = 0; i < 3; i++)
      await fresh(closes.url)
        .then((r) => r.text())
        .catch(() => undefined);
    const results = [];
    for (let i = 0; i < 20; i++) results.push(await (await fresh(closes.url)).text());
    expect(results.every((r) => r === 'ok')).toBe(true);
  });
});
