import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ChatChunk, type ChatMessage, type ChatModel, ChatModelError } from '@somaagent/ports';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalLlamaChatModel } from '../src/LocalLlamaChatModel';
import { OpenAICompatibleChatModel } from '../src/OpenAICompatibleChatModel';
import { ensureTinyLlamaModel, TINY_MODEL_NAME } from '../src/tinyLlamaModel';

// One suite, every ChatModel adapter, each against a real engine running an untrained model:
// mechanics only (order, counts, stop reasons, cancellation, concurrency), never content.
const baseUrl = process.env.SOMA_LLM_BASE_URL;
const httpModel = process.env.SOMA_LLM_MODEL;
const apiKey = process.env.SOMA_LLM_API_KEY ?? 'not-needed';
if (!baseUrl || !httpModel)
  throw new Error('the test harness did not provide the llm engine (SOMA_LLM_BASE_URL, SOMA_LLM_MODEL)');

interface Subject {
  name: string;
  chat: ChatModel;
  model: string;
  /**
   * What the adapter does beyond the port. `httpRetries`: retries with backoff on 429/5xx and
   * Retry-After (the HTTP adapter's own describe below); the in-process engine has no transport
   * that can answer 429 or 503, so it declares none.
   */
  capabilities: { httpRetries: boolean };
}

const subjects: Subject[] = [
  {
    name: 'OpenAICompatibleChatModel → llama-server (harness engine llm)',
    chat: OpenAICompatibleChatModel.fromUrl(baseUrl, apiKey),
    model: httpModel,
    capabilities: { httpRetries: true },
  },
  {
    name: 'LocalLlamaChatModel → llama.cpp in-process (node-llama-cpp)',
    chat: new LocalLlamaChatModel({
      modelName: TINY_MODEL_NAME,
      modelPath: () => ensureTinyLlamaModel(join(tmpdir(), 'somaagent-test-models')),
    }),
    model: TINY_MODEL_NAME,
    capabilities: { httpRetries: false },
  },
];
afterAll(async () => {
  for (const s of subjects) await s.chat[Symbol.asyncDispose]();
});

async function drain(stream: AsyncIterable<ChatChunk>) {
  const chunks: ChatChunk[] = [];
  for await (const c of stream) chunks.push(c);
  return chunks;
}
const usageOf = (chunks: ChatChunk[]) =>
  chunks.find((c) => c.type === 'usage') as Extract<ChatChunk, { type: 'usage' }>;
const textOf = (chunks: ChatChunk[]) => chunks.map((c) => (c.type === 'delta' ? c.text : '')).join('');

const messages: ChatMessage[] = [{ role: 'user', content: 'Count to ten.' }];
const conversation: ChatMessage[] = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Count to ten.' },
  { role: 'assistant', content: 'One, two, three.' },
  { role: 'user', content: 'Go on.' },
];

describe.each(subjects)('ChatModel contract: $name', ({ chat, model }) => {
  it('streams deltas, then exactly one usage from the engine, then finish', async () => {
    const chunks = await drain(chat.stream({ model, messages, maxTokens: 16 }));
    const kinds = chunks.map((c) => c.type);
    expect(kinds.filter((k) => k === 'delta').length).toBeGreaterThan(0);
    expect(kinds.slice(-2)).toEqual(['usage', 'finish']);
    expect(kinds.filter((k) => k === 'usage' || k === 'finish')).toHaveLength(2);
    const usage = usageOf(chunks);
    expect(usage.promptTokens).toBeGreaterThan(0);
    expect(usage.completionTokens).toBeGreaterThan(0);
    expect(usage.completionTokens).toBeLessThanOrEqual(16);
  });

  it('honours maxTokens with finish reason "length"', async () => {
    const chunks = await drain(chat.stream({ model, messages, maxTokens: 3, temperature: 1 }));
    const usage = usageOf(chunks);
    expect(usage.completionTokens).toBeLessThanOrEqual(3);
    const finish = chunks.at(-1) as Extract<ChatChunk, { type: 'finish' }>;
    if (usage.completionTokens === 3) expect(finish.reason).toBe('length');
  });

  it('renders system, user and assistant turns: a longer conversation counts more prompt tokens', async () => {
    const short = usageOf(await drain(chat.stream({ model, messages, maxTokens: 2 })));
    const long = usageOf(await drain(chat.stream({ model, messages: conversation, maxTokens: 2 })));
    expect(long.promptTokens).toBeGreaterThan(short.promptTokens + 5);
  });

  it('temperature 0 is greedy: the same prompt gives the same tokens', async () => {
    const a = await drain(chat.stream({ model, messages, maxTokens: 8, temperature: 0 }));
    const b = await drain(chat.stream({ model, messages, maxTokens: 8, temperature: 0 }));
    expect(textOf(a)).toBe(textOf(b));
    expect(usageOf(a)).toEqual(usageOf(b));
  });

  it('stops promptly when the signal aborts', async () => {
    const abort = new AbortController();
    const chunks: ChatChunk[] = [];
    const started = Date.now();
    for await (const c of chat.stream({ model, messages, maxTokens: 2000, signal: abort.signal })) {
      chunks.push(c);
      if (c.type === 'delta' && chunks.length === 2) abort.abort();
    }
    expect(chunks.at(-1)).toEqual({ type: 'finish', reason: 'cancelled' });
    // Still metered: one usage, of what was delivered (ChatModelUsage.contract.test.ts checks the counts).
    expect(chunks.filter((c) => c.type === 'usage')).toHaveLength(1);
    expect(chunks.at(-2)?.type).toBe('usage');
    expect(chunks.filter((c) => c.type === 'delta').length).toBeLessThan(50);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('an already aborted signal ends at once with "cancelled"', async () => {
    const chunks = await drain(chat.stream({ model, messages, maxTokens: 16, signal: AbortSignal.abort() }));
    // Never sent: nothing used.
    expect(chunks).toEqual([
      { type: 'usage', promptTokens: 0, completionTokens: 0, source: 'engine' },
      { type: 'finish', reason: 'cancelled' },
    ]);
  });

  it('serves concurrent requests, each with its own usage and finish', async () => {
    const runs = await Promise.all(
      [5, 6, 7].map((maxTokens) => drain(chat.stream({ model, messages, maxTokens, temperature: 1 }))),
    );
    for (const [i, chunks] of runs.entries()) {
      expect(chunks.map((c) => c.type).slice(-2)).toEqual(['usage', 'finish']);
      expect(usageOf(chunks).completionTokens).toBeLessThanOrEqual(5 + i);
    }
  });
});

describe('ChatModel contract: both engines count with the same tokenizer and chat template', () => {
  it('the same conversation has the same prompt token count in llama-server and in-process', async () => {
    const [http, local] = await Promise.all(
      subjects.map(async ({ chat, model }) =>
        usageOf(await drain(chat.stream({ model, messages: conversation, maxTokens: 1 }))),
      ),
    );
    expect(local!.promptTokens).toBe(http!.promptTokens);
  });
});

/** Passes one request on to the harness's llama.cpp server and streams its answer back. */
async function forwardToLlm(req: IncomingMessage, res: ServerResponse) {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const upstream = await fetch(`${baseUrl}${req.url!.replace(/^\/v1/, '')}`, {
    method: req.method,
    headers: { 'content-type': 'application/json', authorization: req.headers.authorization ?? '' },
    body: Buffer.concat(chunks),
  });
  res.writeHead(upstream.status, {
    'content-type': upstream.headers.get('content-type') ?? 'application/json',
  });
  const reader = upstream.body!.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) res.write(r.value);
  res.end();
}

/**
 * A real HTTP front that answers the first `failures` requests with `status` (as a rate
 * limiter or an overloaded gateway would) and forwards the rest to the llama.cpp server.
 */
async function startFront(failures: number, status: number, retryAfter?: string) {
  const seen: number[] = [];
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    seen.push(Date.now());
    if (seen.length <= failures) {
      res.writeHead(status, {
        'content-type': 'application/json',
        ...(retryAfter ? { 'retry-after': retryAfter } : {}),
      });
      res.end(JSON.stringify({ error: { message: 'busy' } }));
      return;
    }
    await forwardToLlm(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('ChatModel capability httpRetries: OpenAICompatibleChatModel', () => {
  it('is declared by the HTTP adapter only', () => {
    expect(subjects.filter((s) => s.capabilities.httpRetries).map((s) => s.chat.kind)).toEqual([
      'openai-compatible',
    ]);
  });

  let front: Awaited<ReturnType<typeof startFront>>;
  afterAll(() => front?.close());
  const model = httpModel;

  it('retries 429 honouring Retry-After, then streams', async () => {
    front = await startFront(1, 429, '1');
    const started = Date.now();
    const chunks = await drain(
      OpenAICompatibleChatModel.fromUrl(front.url, apiKey).stream({ model, messages, maxTokens: 4 }),
    );
    expect(chunks.at(-1)?.type).toBe('finish');
    expect(front.seen.length).toBe(2);
    expect(front.seen[1]! - front.seen[0]!).toBeGreaterThanOrEqual(950);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    await front.close();
  });

  it('retries 5xx with backoff and gives up retriable after maxRetries', async () => {
    front = await startFront(10, 503);
    const model503 = OpenAICompatibleChatModel.fromUrl(front.url, apiKey, {
      maxRetries: 2,
      baseDelayMs: 10,
    });
    const error = await drain(model503.stream({ model, messages, maxTokens: 4 })).catch((e) => e);
    expect(error).toBeInstanceOf(ChatModelError);
    expect(error.retriable).toBe(true);
    expect(error.status).toBe(503);
    expect(front.seen.length).toBe(3);
    await front.close();
  });

  it('does not retry a 400: the request itself is wrong', async () => {
    front = await startFront(10, 400);
    const error = await drain(
      OpenAICompatibleChatModel.fromUrl(front.url, apiKey).stream({ model, messages, maxTokens: 4 }),
    ).catch((e) => e);
    expect(error).toBeInstanceOf(ChatModelError);
    expect(error.retriable).toBe(false);
    expect(front.seen.length).toBe(1);
  });
});

/**
 * A real HTTP front that forwards to the llama.cpp server but, like llama-server itself after a
 * streamed answer, drops a kept-alive connection: the second request on any socket is never
 * answered (the socket is destroyed as it arrives).
 */
async function startClosingFront() {
  const requestsPerSocket = new WeakMap<object, number>();
  let requests = 0;
  let dropped = 0;
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    const n = (requestsPerSocket.get(req.socket) ?? 0) + 1;
    requestsPerSocket.set(req.socket, n);
    requests++;
    if (n === 2) {
      dropped++;
      req.socket.destroy();
      return;
    }
    await forwardToLlm(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    dropped: () => dropped,
    requests: () => requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('OpenAICompatibleChatModel: connections closed before an answer', () => {
  const model = httpModel;

  it('sends again at once on a new connection, without spending the retry budget or backing off', async () => {
    const front = await startClosingFront();
    try {
      // No backoff retries at all: only the immediate stale-connection retry can save the second stream.
      const chat = OpenAICompatibleChatModel.fromUrl(front.url, apiKey, {
        maxRetries: 0,
        baseDelayMs: 5_000,
      });
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        const chunks = await drain(chat.stream({ model, messages, maxTokens: 4 }));
        expect(chunks.at(-1)).toEqual({ type: 'finish', reason: expect.stringMatching(/stop|length/) });
        expect(Date.now() - started).toBeLessThan(4_000);
      }
      // At least stream 2 went out on the kept-alive socket of stream 1, which the front dropped
      // (whether stream 3 finds an idle socket to reuse is the connection pool's business).
      expect(front.dropped()).toBeGreaterThanOrEqual(1);
      expect(front.requests()).toBe(3 + front.dropped());
    } finally {
      await front.close();
    }
  });

  it('gives up retriable after its immediate retries when every connection is dropped, and says so', async () => {
    const server: Server = createServer((req) => req.socket.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
      const chat = OpenAICompatibleChatModel.fromUrl(url, apiKey, { maxRetries: 1, baseDelayMs: 10 });
      const error = await drain(chat.stream({ model, messages, maxTokens: 4 })).catch((e) => e);
      expect(error).toBeInstanceOf(ChatModelError);
      expect(error.retriable).toBe(true);
      expect(error.message).toMatch(/after 2 attempts \(\+3 on connections closed before an answer\)/);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('OpenAICompatibleChatModel stream slots (maxConcurrentStreams)', () => {
  const model = httpModel;

  it('keeps at most N streams on the wire; the rest wait in order and start as slots free', async () => {
    const front = await startFront(0, 200);
    try {
      const chat = OpenAICompatibleChatModel.fromUrl(front.url, apiKey, { maxConcurrentStreams: 1 });
      // What the server had seen each time the first stream delivered a token.
      const seenWhileFirstStreamed: number[] = [];
      const first = (async () => {
        for await (const c of chat.stream({ model, messages, maxTokens: 6 }))
          if (c.type === 'delta') seenWhileFirstStreamed.push(front.seen.length);
      })();
      const second = drain(chat.stream({ model, messages, maxTokens: 6 }));
      // Both were asked for; only one is on the wire.
      await new Promise((r) => setTimeout(r, 0));
      expect(chat.slots.active).toBe(1);
      expect(chat.slots.queued).toBe(1);
      await first;
      expect(seenWhileFirstStreamed.length).toBeGreaterThan(0);
      expect(new Set(seenWhileFirstStreamed)).toEqual(new Set([1]));
      expect((await second).at(-1)?.type).toBe('finish');
      expect(front.seen.length).toBe(2);
      expect(chat.slots.active).toBe(0);
      expect(chat.slots.queued).toBe(0);
    } finally {
      await front.close();
    }
  });

  it('a waiting request cancelled before its turn never reaches the server', async () => {
    const front = await startFront(0, 200);
    try {
      const chat = OpenAICompatibleChatModel.fromUrl(front.url, apiKey, { maxConcurrentStreams: 1 });
      const holder = drain(chat.stream({ model, messages, maxTokens: 6 }));
      const abort = new AbortController();
      const waiting = drain(chat.stream({ model, messages, maxTokens: 6, signal: abort.signal }));
      await new Promise((r) => setTimeout(r, 0));
      expect(chat.slots.queued).toBe(1);
      abort.abort();
      expect(await waiting).toEqual([
        { type: 'usage', promptTokens: 0, completionTokens: 0, source: 'engine' },
        { type: 'finish', reason: 'cancelled' },
      ]);
      expect(chat.slots.queued).toBe(0);
      await holder;
      expect(front.seen.length).toBe(1);
      expect(chat.slots.active).toBe(0);
    } finally {
      await front.close();
    }
  });
});

describe('LocalLlamaChatModel specifics', () => {
  const local = subjects[1]!.chat;

  it('refuses a model it does not serve, before streaming', async () => {
    const error = await drain(local.stream({ model: 'gpt-4o', messages, maxTokens: 4 })).catch((e) => e);
    expect(error).toBeInstanceOf(ChatModelError);
    expect(error.retriable).toBe(false);
  });

  it('refuses a prompt longer than its context with a clear, non-retriable error', async () => {
    const huge = [{ role: 'user' as const, content: 'word '.repeat(5000) }];
    const error = await drain(local.stream({ model: TINY_MODEL_NAME, messages: huge, maxTokens: 4 })).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(ChatModelError);
    expect(error.retriable).toBe(false);
    expect(error.message).toMatch(/context holds 4096/);
  });
});
