import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ChatChunk, ChatModelError } from '@somaagent/ports';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAICompatibleChatModel } from '../src/OpenAICompatibleChatModel';

// Against the harness's real llama.cpp server (engine `llm`; untrained model: mechanics only).
const baseUrl = process.env.SOMA_LLM_BASE_URL;
const model = process.env.SOMA_LLM_MODEL;
const apiKey = process.env.SOMA_LLM_API_KEY ?? 'not-needed';
if (!baseUrl || !model)
  throw new Error('the test harness did not provide the llm engine (SOMA_LLM_BASE_URL, SOMA_LLM_MODEL)');

async function drain(stream: AsyncIterable<ChatChunk>) {
  const chunks: ChatChunk[] = [];
  for await (const c of stream) chunks.push(c);
  return chunks;
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
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('OpenAICompatibleChatModel against llama.cpp', () => {
  const chat = OpenAICompatibleChatModel.fromUrl(baseUrl, apiKey);
  const messages = [{ role: 'user' as const, content: 'Count to ten.' }];

  it('streams deltas, then exactly one usage from the engine, then finish', async () => {
    const chunks = await drain(chat.stream({ model, messages, maxTokens: 16 }));
    const kinds = chunks.map((c) => c.type);
    expect(kinds.filter((k) => k === 'delta').length).toBeGreaterThan(0);
    expect(kinds.slice(-2)).toEqual(['usage', 'finish']);
    const usage = chunks.at(-2) as Extract<ChatChunk, { type: 'usage' }>;
    expect(usage.promptTokens).toBeGreaterThan(0);
    expect(usage.completionTokens).toBeGreaterThan(0);
    expect(usage.completionTokens).toBeLessThanOrEqual(16);
  });

  it('honours maxTokens with finish reason "length"', async () => {
    const chunks = await drain(chat.stream({ model, messages, maxTokens: 3, temperature: 1 }));
    const usage = chunks.find((c) => c.type === 'usage') as Extract<ChatChunk, { type: 'usage' }>;
    expect(usage.completionTokens).toBeLessThanOrEqual(3);
    const finish = chunks.at(-1) as Extract<ChatChunk, { type: 'finish' }>;
    if (usage.completionTokens === 3) expect(finish.reason).toBe('length');
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
    expect(chunks.filter((c) => c.type === 'delta').length).toBeLessThan(50);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  describe('retries', () => {
    let front: Awaited<ReturnType<typeof startFront>>;
    afterAll(() => front?.close());

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
});
