import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ChatChunk, type ChatMessage, type ChatModel, ChatModelError } from '@somaagent/ports';
import { afterAll, describe, expect, it } from 'vitest';
import { startCuttingLlmFront } from '../../../tests/support/cuttingLlmFront';
import { GgufTokenCounter } from '../src/GgufTokenCounter';
import { LocalLlamaChatModel } from '../src/LocalLlamaChatModel';
import { OpenAICompatibleChatModel } from '../src/OpenAICompatibleChatModel';
import { ensureTinyLlamaModel, TINY_MODEL_NAME } from '../src/tinyLlamaModel';

// Metering of streams cut short (issue 14, item 2), on both adapters against real engines with
// an untrained model: a cancelled or broken-off stream still ends with the usage the engine
// counted for what was delivered. The oracle is the engine itself: greedy decoding (temperature
// 0) is deterministic, so asking the engine again for exactly `completionTokens` tokens must
// give back exactly the text the cut-short stream delivered, and its prompt count is the one
// the engine reports for a complete answer to the same messages.
const baseUrl = process.env.SOMA_LLM_BASE_URL;
const httpModel = process.env.SOMA_LLM_MODEL;
const apiKey = process.env.SOMA_LLM_API_KEY ?? 'not-needed';
const servedModelFile = process.env.SOMA_LLM_TOKENIZER_GGUF;
if (!baseUrl || !httpModel || !servedModelFile)
  throw new Error(
    'the test harness did not provide the llm engine (SOMA_LLM_BASE_URL, SOMA_LLM_MODEL, SOMA_LLM_TOKENIZER_GGUF)',
  );

const subjects: { name: string; chat: ChatModel; model: string }[] = [
  {
    name: 'OpenAICompatibleChatModel → llama-server (runningUsage llama-server)',
    chat: OpenAICompatibleChatModel.fromUrl(baseUrl, apiKey, { runningUsage: 'llama-server' }),
    model: httpModel,
  },
  {
    name: 'LocalLlamaChatModel → llama.cpp in-process',
    chat: new LocalLlamaChatModel({
      modelName: TINY_MODEL_NAME,
      modelPath: () => ensureTinyLlamaModel(join(tmpdir(), 'somaagent-test-models')),
    }),
    model: TINY_MODEL_NAME,
  },
];
afterAll(async () => {
  for (const s of subjects) await s.chat[Symbol.asyncDispose]();
});

type Usage = Extract<ChatChunk, { type: 'usage' }>;
const usageOf = (chunks: ChatChunk[]) => chunks.find((c): c is Usage => c.type === 'usage');
const textOf = (chunks: ChatChunk[]) => chunks.map((c) => (c.type === 'delta' ? c.text : '')).join('');

async function drain(stream: AsyncIterable<ChatChunk>) {
  const chunks: ChatChunk[] = [];
  for await (const c of stream) chunks.push(c);
  return chunks;
}

/** Streams and aborts once `deltas` deltas arrived; keeps reading until the adapter ends. */
async function cancelAfter(chat: ChatModel, model: string, messages: ChatMessage[], deltas: number) {
  const abort = new AbortController();
  const chunks: ChatChunk[] = [];
  for await (const c of chat.stream({
    model,
    messages,
    maxTokens: 2000,
    temperature: 0,
    signal: abort.signal,
  })) {
    chunks.push(c);
    if (c.type === 'delta' && chunks.filter((x) => x.type === 'delta').length === deltas) abort.abort();
  }
  return chunks;
}

const messages: ChatMessage[] = [
  { role: 'system', content: 'You are a test persona.' },
  { role: 'user', content: 'Write a very long story.' },
];

describe.each(subjects)('ChatModel usage when cut short: $name', ({ chat, model }) => {
  it('a cancelled stream reports the engine’s prompt count and exactly the tokens that produced its text', async () => {
    const complete = usageOf(await drain(chat.stream({ model, messages, maxTokens: 1, temperature: 0 })))!;
    // The untrained model may sample end-of-text early; such an attempt was not cut short.
    let chunks: ChatChunk[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      chunks = await cancelAfter(chat, model, messages, 6);
      if (chunks.at(-1)?.type === 'finish' && (chunks.at(-1) as { reason: string }).reason === 'cancelled')
        break;
    }
    expect(chunks.at(-1)).toEqual({ type: 'finish', reason: 'cancelled' });
    const usage = usageOf(chunks)!;
    expect(usage).toMatchObject({ type: 'usage', source: 'engine' });
    expect(usage.promptTokens).toBe(complete.promptTokens);
    const deltas = chunks.filter((c) => c.type === 'delta').length;
    expect(usage.completionTokens).toBeGreaterThanOrEqual(deltas);

    const replay = await drain(
      chat.stream({ model, messages, maxTokens: usage.completionTokens, temperature: 0 }),
    );
    console.log(
      `[usage] cancelled after ${deltas} deltas: ${usage.promptTokens} prompt + ${usage.completionTokens} completion tokens; the engine's replay of ${usage.completionTokens} tokens: ${JSON.stringify(usageOf(replay))}`,
    );
    expect(textOf(replay)).toBe(textOf(chunks));
    expect(usageOf(replay)).toMatchObject({
      promptTokens: usage.promptTokens,
      completionTokens: usage.completionTokens,
    });
  });

  it('deltas carry the engine’s running counts, ending at the final usage', async () => {
    const chunks = await drain(chat.stream({ model, messages, maxTokens: 12, temperature: 0 }));
    const running = chunks.flatMap((c) => (c.type === 'delta' && c.usage ? [c.usage] : []));
    expect(running.length).toBe(chunks.filter((c) => c.type === 'delta').length);
    const counts = running.map((u) => u.completionTokens);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    const final = usageOf(chunks)!;
    expect(running.every((u) => u.promptTokens === final.promptTokens)).toBe(true);
    // The final count may add an end-of-generation token that has no text.
    expect(final.completionTokens - counts.at(-1)!).toBeLessThanOrEqual(1);
  });
});

describe('OpenAICompatibleChatModel: usage of streams cut short', () => {
  const model = httpModel;

  it('a stream that breaks off mid-answer yields the engine’s counts so far, then throws retriable', async () => {
    const front = await startCuttingLlmFront(baseUrl, 8);
    try {
      const chat = OpenAICompatibleChatModel.fromUrl(front.url, apiKey, { runningUsage: 'llama-server' });
      const complete = usageOf(
        await drain(
          OpenAICompatibleChatModel.fromUrl(baseUrl, apiKey).stream({ model, messages, maxTokens: 1 }),
        ),
      )!;
      const chunks: ChatChunk[] = [];
      const error = await (async () => {
        for await (const c of chat.stream({ model, messages, maxTokens: 2000, temperature: 0 }))
          chunks.push(c);
      })().catch((e) => e);
      expect(error).toBeInstanceOf(ChatModelError);
      expect(error.retriable).toBe(true);
      const usage = usageOf(chunks)!;
      expect(chunks.at(-1)).toBe(usage);
      expect(usage.source).toBe('engine');
      expect(usage.promptTokens).toBe(complete.promptTokens);
      expect(usage.completionTokens).toBeGreaterThanOrEqual(chunks.filter((c) => c.type === 'delta').length);
      expect(usage.completionTokens).toBeGreaterThan(0);
    } finally {
      await front.close();
    }
  });

  it("'detect': estimates until a complete answer showed llama-server, then reports the engine's counts", async () => {
    const chat = OpenAICompatibleChatModel.fromUrl(baseUrl, apiKey); // runningUsage: 'detect'
    try {
      const before = await cancelAfter(chat, model, messages, 3);
      const estimated = usageOf(before)!;
      expect(estimated.source).toBe('estimate');
      expect(estimated.completionTokens).toBe(before.filter((c) => c.type === 'delta').length);
      const chars = messages.reduce((n, m) => n + m.content.length, 0);
      expect(estimated.promptTokens).toBe(Math.ceil(chars / 4));

      await drain(chat.stream({ model, messages, maxTokens: 2 }));
      const after = usageOf(await cancelAfter(chat, model, messages, 3))!;
      expect(after.source).toBe('engine');
    } finally {
      await chat[Symbol.asyncDispose]();
    }
  });
});

describe('OpenAICompatibleChatModel: a server without running counts is counted with the model’s tokenizer', () => {
  const model = httpModel;

  it('a cancelled stream gets the served model’s tokenizer counts: the engine’s prompt count, and the delivered text’s tokens', async () => {
    // runningUsage 'off': the server is treated as one that reports usage only at the end (vLLM, gateways).
    const counter = new GgufTokenCounter(servedModelFile);
    const chat = OpenAICompatibleChatModel.fromUrl(baseUrl, apiKey, {
      runningUsage: 'off',
      tokenCounter: counter,
    });
    const engine = OpenAICompatibleChatModel.fromUrl(baseUrl, apiKey, { runningUsage: 'llama-server' });
    try {
      const complete = usageOf(
        await drain(engine.stream({ model, messages, maxTokens: 1, temperature: 0 })),
      )!;
      let compared = 0;
      for (const cut of [3, 6, 20, 48]) {
        const chunks = await cancelAfter(chat, model, messages, cut);
        // The untrained model may sample end-of-text before the cut: that stream was not cut short.
        if ((chunks.at(-1) as { reason?: string }).reason !== 'cancelled') continue;
        const usage = usageOf(chunks)!;
        expect(usage.source).toBe('tokenizer');
        expect(usage.promptTokens).toBe(complete.promptTokens);
        // The engine's own count for the same delivered text: the same greedy stream, cut at the
        // same delta, with running counts.
        const reference = usageOf(await cancelAfter(engine, model, messages, cut))!;
        expect(reference.source).toBe('engine');
        console.log(
          `[usage] cut after ${cut} deltas: tokenizer ${usage.promptTokens} prompt + ${usage.completionTokens} completion; engine ${reference.promptTokens} + ${reference.completionTokens}`,
        );
        expect(usage.completionTokens).toBe(reference.completionTokens);
        compared++;
      }
      expect(compared).toBeGreaterThan(0);
    } finally {
      await chat[Symbol.asyncDispose]();
      await engine[Symbol.asyncDispose]();
      await counter[Symbol.asyncDispose]();
    }
  });

  it('a tokenizer that cannot load falls back to the estimate; the answer does not fail', async () => {
    const counter = new GgufTokenCounter('/nonexistent/model.gguf');
    const chat = OpenAICompatibleChatModel.fromUrl(baseUrl, apiKey, {
      runningUsage: 'off',
      tokenCounter: counter,
    });
    try {
      const usage = usageOf(await cancelAfter(chat, model, messages, 2))!;
      expect(usage.source).toBe('estimate');
    } finally {
      await chat[Symbol.asyncDispose]();
    }
  });
});
