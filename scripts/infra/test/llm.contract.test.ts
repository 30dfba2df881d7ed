import OpenAI, { AuthenticationError } from 'openai';
import type { ChatCompletionChunk, ChatCompletionCreateParamsBase } from 'openai/resources/chat/completions';
import { describe, expect, inject, it } from 'vitest';

/**
 * The harness LLM server (llama.cpp `llama-server` running the generated `soma-tiny` model)
 * behaves like an OpenAI-compatible API as far as SomaAgent relies on it, through the `openai`
 * client. The model's weights are random (untrained), so its text is meaningless: these tests
 * assert mechanics only (token accounting, streaming order, stop reasons, cancellation,
 * schema-constrained output), never what the text says.
 */
const llm = inject('llm');
const client = new OpenAI({ baseURL: llm.baseUrl, apiKey: llm.apiKey, maxRetries: 0 });
/** Greedy decoding: the same request gives the same tokens, streamed or not. */
const base = {
  model: llm.model,
  temperature: 0,
  messages: [
    { role: 'system', content: 'You are a test assistant.' },
    { role: 'user', content: 'Say something about the weather.' },
  ],
} satisfies ChatCompletionCreateParamsBase;
const serverRoot = llm.baseUrl.replace(/\/v1$/, '');

async function collect(stream: AsyncIterable<ChatCompletionChunk>) {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

interface Slot {
  is_processing: boolean;
  params: { seed?: number };
  next_token: { n_decoded: number }[];
}

/** llama-server's /slots endpoint: what each slot is doing right now. */
async function slots(): Promise<Slot[]> {
  const response = await fetch(`${serverRoot}/slots`, { headers: { authorization: `Bearer ${llm.apiKey}` } });
  expect(response.status).toBe(200);
  return (await response.json()) as Slot[];
}

describe('harness LLM server (llama.cpp llama-server, soma-tiny)', () => {
  it('listens on 127.0.0.1 and lists the model under its alias', async () => {
    expect(llm.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain(llm.model);
  });

  it('refuses a wrong API key with 401', async () => {
    const wrong = new OpenAI({ baseURL: llm.baseUrl, apiKey: 'not-the-key', maxRetries: 0 });
    await expect(wrong.chat.completions.create({ ...base, max_tokens: 4 })).rejects.toBeInstanceOf(
      AuthenticationError,
    );
  });

  it('answers a chat completion with usage counts that add up', async () => {
    const completion = await client.chat.completions.create({ ...base, max_tokens: 16 });
    expect(completion.object).toBe('chat.completion');
    expect(completion.choices).toHaveLength(1);
    const [choice] = completion.choices;
    expect(choice!.message.role).toBe('assistant');
    expect(typeof choice!.message.content).toBe('string');
    expect(['stop', 'length']).toContain(choice!.finish_reason);
    const usage = completion.usage!;
    expect(usage.prompt_tokens).toBeGreaterThan(0);
    expect(usage.completion_tokens).toBeGreaterThan(0);
    expect(usage.completion_tokens).toBeLessThanOrEqual(16);
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);

    // prompt_tokens is the length of the prompt the chat template renders, tokenized (with BOS).
    const post = async (path: string, body: unknown) => {
      const response = await fetch(`${serverRoot}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${llm.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(response.status).toBe(200);
      return response.json() as Promise<Record<string, unknown>>;
    };
    const { prompt } = await post('/apply-template', { messages: base.messages });
    const { tokens } = await post('/tokenize', { content: prompt, add_special: true });
    expect(usage.prompt_tokens).toBe((tokens as number[]).length);

    // A longer conversation costs more prompt tokens.
    const longer = await client.chat.completions.create({
      ...base,
      max_tokens: 1,
      messages: [...base.messages, { role: 'user', content: 'And tomorrow, in three more cities?' }],
    });
    expect(longer.usage!.prompt_tokens).toBeGreaterThan(usage.prompt_tokens);
  });

  it('honours max_tokens: stops after exactly that many tokens with finish_reason "length"', async () => {
    const completion = await client.chat.completions.create({ ...base, max_tokens: 5 });
    expect(completion.choices[0]!.finish_reason).toBe('length');
    expect(completion.usage!.completion_tokens).toBe(5);
  });

  it('streams ordered deltas: role first, content, one finish_reason, then usage', async () => {
    const stream = await client.chat.completions.create({
      ...base,
      max_tokens: 24,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = await collect(stream);
    expect(chunks.length).toBeGreaterThan(2);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    for (const chunk of chunks) expect(chunk.object).toBe('chat.completion.chunk');

    const withChoice = chunks.filter((c) => c.choices.length > 0);
    expect(withChoice[0]!.choices[0]!.delta.role).toBe('assistant');
    const finishes = withChoice.filter((c) => c.choices[0]!.finish_reason);
    expect(finishes).toHaveLength(1);
    // The finish_reason comes after every content delta.
    const finishAt = chunks.indexOf(finishes[0]!);
    const lastContentAt = chunks.findLastIndex((c) => (c.choices[0]?.delta.content ?? '') !== '');
    expect(lastContentAt).toBeGreaterThanOrEqual(0);
    expect(finishAt).toBeGreaterThanOrEqual(lastContentAt);
    expect(['stop', 'length']).toContain(finishes[0]!.choices[0]!.finish_reason);

    // The usage chunk is last and has no choices.
    const last = chunks.at(-1)!;
    expect(last.choices).toHaveLength(0);
    expect(last.usage!.completion_tokens).toBeGreaterThan(0);
    expect(last.usage!.completion_tokens).toBeLessThanOrEqual(24);
    expect(last.usage!.prompt_tokens).toBeGreaterThan(0);

    // The deltas, in order, are the same text the non-streamed (greedy) completion returns.
    const streamed = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    const whole = await client.chat.completions.create({ ...base, max_tokens: 24 });
    expect(streamed).toBe(whole.choices[0]!.message.content);
    expect(last.usage!.completion_tokens).toBe(whole.usage!.completion_tokens);
  });

  it('stops generating when the client aborts a stream', async () => {
    // Other test runs may share this server, so the request is told apart by a unique seed
    // (llama-server shows each slot's request parameters and decoded-token count on /slots).
    const seed = 1_000_000 + Math.floor(Math.random() * 1_000_000_000);
    const ours = (slots: Slot[]) => slots.find((s) => s.is_processing && s.params.seed === seed);
    const maxTokens = 4000;
    let mostDecoded = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const slot = ours(await slots());
        if (slot) mostDecoded = Math.max(mostDecoded, slot.next_token[0]?.n_decoded ?? 0);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();

    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { ...base, seed, max_tokens: maxTokens, stream: true },
      { signal: controller.signal },
    );
    let received = 0;
    let finishReason: string | null = null;
    // The openai client ends the iteration quietly on abort (after chunks it already parsed).
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) received++;
      finishReason ??= chunk.choices[0]?.finish_reason ?? null;
      if (received === 3) controller.abort();
    }
    expect(received).toBeGreaterThanOrEqual(3);
    expect(finishReason).toBeNull();

    // The server notices the closed connection and frees the slot before max_tokens. How many
    // tokens it decoded first depends on how quickly this (possibly busy) process read the
    // chunks and aborted, so the bound is "stopped early", not a count: an uncancelled request
    // would be seen decoding within a few dozen tokens of the end (a full one takes ~3 s).
    await expect
      .poll(async () => ours(await slots()) === undefined, { timeout: 10_000, interval: 20 })
      .toBe(true);
    watching = false;
    await watcher;
    expect(mostDecoded).toBeLessThan(maxTokens - 200);
    // And it still serves the next request.
    const next = await client.chat.completions.create({ ...base, max_tokens: 2 });
    expect(next.usage!.completion_tokens).toBe(2);
  });

  it('completes long sampled generations for any seed (always valid UTF-8, never a server error)', async () => {
    for (const seed of [1, 2, 3, 4]) {
      const completion = await client.chat.completions.create({
        ...base,
        temperature: 1,
        seed,
        max_tokens: 300,
      });
      const choice = completion.choices[0]!;
      expect(['stop', 'length']).toContain(choice.finish_reason);
      if (choice.finish_reason === 'length') expect(completion.usage!.completion_tokens).toBe(300);
      expect(choice.message.content).not.toContain('\uFFFD');
    }
  });

  it('serves two streams at once', async () => {
    const run = async (content: string) =>
      collect(
        await client.chat.completions.create({
          ...base,
          messages: [{ role: 'user', content }],
          max_tokens: 12,
          stream: true,
          stream_options: { include_usage: true },
        }),
      );
    const [a, b] = await Promise.all([run('first'), run('second, a bit longer')]);
    for (const chunks of [a, b]) {
      expect(chunks.filter((c) => c.choices[0]?.finish_reason)).toHaveLength(1);
      expect(chunks.at(-1)!.usage!.completion_tokens).toBeGreaterThan(0);
    }
    expect(a[0]!.id).not.toBe(b[0]!.id);
  });

  it('constrains the output to a JSON schema (response_format json_schema)', async () => {
    const schema = {
      type: 'object',
      properties: {
        verdict: { type: 'string', enum: ['approve', 'reject', 'revise'] },
        confidence: { type: 'integer', minimum: 0, maximum: 100 },
        urgent: { type: 'boolean' },
      },
      required: ['verdict', 'confidence', 'urgent'],
      additionalProperties: false,
    } as const;
    const completion = await client.chat.completions.create({
      ...base,
      max_tokens: 120,
      response_format: { type: 'json_schema', json_schema: { name: 'review', strict: true, schema } },
    });
    const choice = completion.choices[0]!;
    // The grammar ends the object, so the model stops by itself before max_tokens.
    expect(choice.finish_reason).toBe('stop');
    const parsed = JSON.parse(choice.message.content!) as Record<string, unknown>;
    expect(Object.keys(parsed).sort()).toEqual(['confidence', 'urgent', 'verdict']);
    expect(schema.properties.verdict.enum).toContain(parsed.verdict);
    expect(Number.isInteger(parsed.confidence)).toBe(true);
    expect(parsed.confidence).toBeGreaterThanOrEqual(0);
    expect(parsed.confidence).toBeLessThanOrEqual(100);
    expect(typeof parsed.urgent).toBe('boolean');
  });
});
