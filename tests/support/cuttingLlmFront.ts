import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real HTTP relay in front of the harness's llama-server (`baseUrl`, its `/v1` URL) that
 * forwards each request and destroys the connection after `events` SSE events of the answer:
 * a model stream that breaks off mid-answer, as a crashed or unreachable server does.
 */
export async function startCuttingLlmFront(baseUrl: string, events: number) {
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    const body: Buffer[] = [];
    for await (const c of req) body.push(c as Buffer);
    const upstream = await fetch(`${baseUrl}${req.url!.replace(/^\/v1/, '')}`, {
      method: req.method,
      headers: { 'content-type': 'application/json', authorization: req.headers.authorization ?? '' },
      body: Buffer.concat(body),
    });
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? '' });
    const reader = upstream.body!.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    let sent = 0;
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      buffered += decoder.decode(r.value, { stream: true });
      for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
        res.write(buffered.slice(0, end + 2));
        buffered = buffered.slice(end + 2);
        if (++sent === events) {
          await reader.cancel();
          res.socket?.destroy();
          return;
        }
      }
    }
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
