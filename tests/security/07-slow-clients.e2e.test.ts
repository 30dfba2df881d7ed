// Issue 14 item 7: slow clients cannot hold the router's sockets, one address cannot take every
// connection, and a graphql-ws socket cannot flood the router with messages.
//
// Attackers and the legitimate client use different loopback source addresses (127.0.0.2…):
// the per-address cap applies to each as it would to hosts on a network, so the attack below is
// judged by the timeouts, and the cap by its own case with a low limit.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { createRouter, type RunningRouter } from '@somaagent/router';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestPlatform, type TestPlatform } from '../support/platform';

const HEADERS_TIMEOUT_MS = 2000;
const REQUEST_TIMEOUT_MS = 4000;
const routerSecret = randomBytes(32).toString('base64url');
let t: TestPlatform;

beforeAll(async () => {
  t = await startTestPlatform({
    routerSecret,
    limits: {
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      wsMessagesPerSecond: 20,
      wsMessageBurst: 20,
    },
  });
});
afterAll(async () => {
  await t?.[Symbol.asyncDispose]();
});

const target = () => new URL(t.platform.url);

interface HalfOpen {
  socket: Socket;
  openedAt: number;
  closedAt: Promise<number>;
  received: () => string;
}

/** A raw TCP connection from `localAddress` that sends `first` and then nothing. */
function rawConnection(port: number, localAddress: string, first: string): Promise<HalfOpen> {
  return new Promise((resolveOpen, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    let received = '';
    const closedAt = new Promise<number>((r) => socket.once('close', () => r(performance.now())));
    socket.on('data', (d) => {
      received += d.toString('latin1');
    });
    socket.on('error', () => {});
    socket.once('connect', () => {
      const openedAt = performance.now();
      socket.write(first);
      resolveOpen({ socket, openedAt, closedAt, received: () => received });
    });
    socket.once('error', reject);
  });
}

// The attacker: raw sockets that send part of a request and trickle a header line every 500 ms;
// prints "open" once all are connected, then each one's lifetime and first answer line.
const ATTACKER = `
const net = require('node:net');
const [port, addresses, perAddress] = process.argv.slice(1).map(Number);
const lifetimes = []; const answers = {}; let open = 0; const total = addresses * perAddress;
for (let a = 0; a < addresses; a++) for (let i = 0; i < perAddress; i++) {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.' + (a + 2) });
  let opened = 0; let received = '';
  socket.on('error', () => {});
  socket.on('data', (d) => { received += d.toString('latin1'); });
  socket.once('connect', () => {
    opened = performance.now();
    socket.write('POST /graphql HTTP/1.1\\r\\nhost: router\\r\\ncontent-type: application/json\\r\\n');
    const timer = setInterval(() => socket.writable && socket.write('x-slow: 1\\r\\n'), 500);
    socket.once('close', () => clearInterval(timer));
    if (++open === total) console.log('open');
  });
  socket.once('close', () => {
    lifetimes.push(performance.now() - opened);
    const line = received.split('\\r\\n')[0] || '(nothing)';
    answers[line] = (answers[line] || 0) + 1;
    if (lifetimes.length === total) console.log(JSON.stringify({ lifetimes, answers }));
  });
}`;

function startAttacker(port: number, addresses: number, perAddress: number) {
  const child = spawn(
    process.execPath,
    ['-e', ATTACKER, String(port), String(addresses), String(perAddress)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  let signalOpen: () => void = () => {};
  const allOpen = new Promise<void>((r) => {
    signalOpen = r;
  });
  const result = new Promise<{ lifetimes: number[]; answers: Record<string, number> }>(
    (resolveResult, reject) => {
      child.stdout.on('data', (d) => {
        out += String(d);
        if (out.includes('open\n')) signalOpen();
        const last = out.trim().split('\n').pop() ?? '';
        if (last.startsWith('{')) resolveResult(JSON.parse(last));
      });
      child.once('exit', (code) => reject(new Error(`attacker exited (${code}) before reporting: ${out}`)));
    },
  );
  return { allOpen, result: result.finally(() => child.kill()) };
}

async function legitLatencies(n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    const res = await fetch(t.platform.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ viewer { __typename } }' }),
    });
    expect(res.status).toBe(200);
    await res.json();
    out.push(performance.now() - started);
  }
  return out;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
const summary = (values: number[]) =>
  `p50 ${percentile(values, 50).toFixed(1)} ms, p95 ${percentile(values, 95).toFixed(1)} ms, max ${Math.max(...values).toFixed(1)} ms`;

describe('07 slow clients', () => {
  it('1,000 half-open requests are closed by the headers timeout while legitimate requests keep working', async () => {
    const port = Number(target().port);
    await legitLatencies(50); // warm-up: the first requests compile code paths
    const before = await legitLatencies(50);

    // 10 attacking addresses × 100 connections, from a process of its own (another host, in
    // effect): each address under the default per-address cap, so only the timeouts can end them.
    const attack = startAttacker(port, 10, 100);
    await attack.allOpen;
    const during = await legitLatencies(50);
    const { lifetimes, answers } = await attack.result;
    const after = await legitLatencies(50);

    console.log(
      [
        `legitimate { viewer } latency, 50 sequential requests each:`,
        `  before the attack: ${summary(before)}`,
        `  during 1,000 half-open requests: ${summary(during)}`,
        `  after: ${summary(after)}`,
        `half-open lifetimes (headers timeout ${HEADERS_TIMEOUT_MS} ms): min ${Math.min(...lifetimes).toFixed(0)} ms, ${summary(lifetimes)}`,
      ].join('\n'),
    );
    // Every one closed by the timeout (not before it, and answered 408), well before the
    // router's 10-s default would have fired: the bound leaves room for a loaded machine.
    expect(lifetimes).toHaveLength(1000);
    expect(Math.min(...lifetimes)).toBeGreaterThan(HEADERS_TIMEOUT_MS - 250);
    expect(Math.max(...lifetimes)).toBeLessThan(HEADERS_TIMEOUT_MS + 6000);
    expect(answers).toEqual({ 'HTTP/1.1 408 Request Timeout': 1000 });
    // A sanity bound only; the figures above are the measurement.
    expect(percentile(during, 95)).toBeLessThan(2000);
  });

  it('a request whose body never finishes is closed by the request timeout', async () => {
    const port = Number(target().port);
    const slow = await Promise.all(
      Array.from({ length: 20 }, () =>
        rawConnection(
          port,
          '127.0.0.20',
          'POST /graphql HTTP/1.1\r\nhost: router\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"query":',
        ),
      ),
    );
    const lifetimes = await Promise.all(slow.map(async (h) => (await h.closedAt) - h.openedAt));
    console.log(
      `slow bodies (request timeout ${REQUEST_TIMEOUT_MS} ms): closed after ${Math.min(...lifetimes).toFixed(0)}–${Math.max(...lifetimes).toFixed(0)} ms`,
    );
    expect(Math.min(...lifetimes)).toBeGreaterThan(REQUEST_TIMEOUT_MS - 250);
    expect(Math.max(...lifetimes)).toBeLessThan(REQUEST_TIMEOUT_MS + 6000);
  });

  it('an idle keep-alive connection outlives the headers timeout and still serves its next request', async () => {
    const port = Number(target().port);
    const socket = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.21' });
    await new Promise((r) => socket.once('connect', r));
    let received = '';
    socket.on('data', (d) => {
      received += d.toString('latin1');
    });
    const body = JSON.stringify({ query: '{ viewer { __typename } }' });
    const request = `POST /graphql HTTP/1.1\r\nhost: router\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
    const waitFor = async (n: number) => {
      for (let i = 0; i < 100 && (received.match(/HTTP\/1\.1 200/g)?.length ?? 0) < n; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    socket.write(request);
    await waitFor(1);
    await new Promise((r) => setTimeout(r, HEADERS_TIMEOUT_MS + 1500));
    expect(socket.destroyed).toBe(false);
    socket.write(request);
    await waitFor(2);
    expect(received.match(/HTTP\/1\.1 200/g)).toHaveLength(2);
    socket.destroy();
  });

  it('caps concurrent connections per client address (low cap, a router of its own)', async () => {
    const router: RunningRouter = await createRouter({
      supergraphSdl: readFileSync(resolve(import.meta.dirname, '../../schema/supergraph.graphql'), 'utf8'),
      subgraphUrls: t.platform.subgraphUrls,
      routerSecret,
      issuers: [],
      limits: { maxConnectionsPerIp: 5 },
    });
    try {
      const port = Number(new URL(router.url).port);
      const held = await Promise.all(
        Array.from({ length: 5 }, () =>
          rawConnection(port, '127.0.0.30', 'GET /healthz HTTP/1.1\r\nhost: r\r\n\r\n'),
        ),
      );
      await new Promise((r) => setTimeout(r, 200));
      expect(held.every((h) => h.received().startsWith('HTTP/1.1 200'))).toBe(true);
      // The sixth from the same address is answered 429 RATE_LIMITED and closed.
      const sixth = await rawConnection(port, '127.0.0.30', 'GET /healthz HTTP/1.1\r\nhost: r\r\n\r\n');
      await sixth.closedAt;
      expect(sixth.received()).toMatch(/^HTTP\/1\.1 429/);
      expect(sixth.received()).toContain('"code":"RATE_LIMITED"');
      expect(sixth.received()).not.toContain('"status":"ok"');
      // Another address is not affected.
      const other = await rawConnection(port, '127.0.0.31', 'GET /healthz HTTP/1.1\r\nhost: r\r\n\r\n');
      await new Promise((r) => setTimeout(r, 200));
      expect(other.received()).toMatch(/^HTTP\/1\.1 200/);
      // A WebSocket from the capped address is refused too: the cap counts every connection.
      const ws = new WebSocket(router.wsUrl, 'graphql-transport-ws', { localAddress: '127.0.0.30' });
      const refused = await new Promise<number>((r) => {
        ws.once('unexpected-response', (_req, res) => r(res.statusCode ?? 0));
        ws.once('open', () => r(101));
        ws.once('error', () => {});
      });
      expect(refused).toBe(429);
      // Closing one frees a place.
      held[0]!.socket.destroy();
      await held[0]!.closedAt;
      await new Promise((r) => setTimeout(r, 100));
      const again = await rawConnection(port, '127.0.0.30', 'GET /healthz HTTP/1.1\r\nhost: r\r\n\r\n');
      await new Promise((r) => setTimeout(r, 200));
      expect(again.received()).toMatch(/^HTTP\/1\.1 200/);
      for (const h of [...held, other, again]) h.socket.destroy();
    } finally {
      await router.close();
    }
  });

  it('a graphql-ws socket that floods messages is closed with 4429; a calm one stays', async () => {
    const token = await t.platformToken();
    const open = async () => {
      const ws = new WebSocket(t.platform.wsUrl, 'graphql-transport-ws');
      const frames: string[] = [];
      ws.on('message', (d) => frames.push(String(d)));
      const closed = new Promise<{ code: number; reason: string }>((r) =>
        ws.once('close', (code, reason) => r({ code, reason: String(reason) })),
      );
      await new Promise((r) => ws.once('open', r));
      ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
      for (let i = 0; i < 100 && !frames.some((f) => f.includes('connection_ack')); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(frames.some((f) => f.includes('connection_ack'))).toBe(true);
      return { ws, frames, closed };
    };

    const flood = await open();
    for (let i = 0; i < 200; i++) flood.ws.send(JSON.stringify({ type: 'ping' }));
    const { code, reason } = await flood.closed;
    expect(code).toBe(4429);
    expect(reason).toMatch(/messages per second/);
    // Messages over the limit were dropped, not answered.
    expect(flood.frames.filter((f) => f.includes('pong')).length).toBeLessThan(25);

    const calm = await open();
    for (let i = 0; i < 15; i++) {
      calm.ws.send(JSON.stringify({ type: 'ping' }));
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(calm.ws.readyState).toBe(WebSocket.OPEN);
    expect(calm.frames.filter((f) => f.includes('pong'))).toHaveLength(15);
    calm.ws.close();
  });
});
