import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ChatMessage,
  type ChatModel,
  type ChatStreamChunk,
  type ChatTool,
  ChatToolDefinitionError,
  type ChatToolRequest,
} from '@somaagent/ports';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalLlamaChatModel } from '../src/LocalLlamaChatModel';
import { OpenAICompatibleChatModel } from '../src/OpenAICompatibleChatModel';
import { ensureTinyLlamaModel, TINY_MODEL_NAME } from '../src/tinyLlamaModel';

// One table of function-calling assertions, every adapter, real engines, the untrained soma-tiny.
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
   * `forcesCalls`: `required` / a named tool yields a call from the first token, whatever the
   * model. llama-server's native `tools` cannot promise it: its `required` grammar lets free text
   * come before the first call (`optional(content(until("<tool_call>"))) + calls` in this
   * llama.cpp), which an untrained model never ends; and soma-tiny's template does not render
   * tools, so llama-server's auto-parser finds no call format in it.
   */
  capabilities: { forcesCalls: boolean };
}

const subjects: Subject[] = [
  {
    name: 'OpenAICompatibleChatModel toolCalling json-schema → llama-server',
    chat: OpenAICompatibleChatModel.fromUrl(baseUrl, apiKey, { toolCalling: 'json-schema' }),
    model: httpModel,
    capabilities: { forcesCalls: true },
  },
  {
    name: 'OpenAICompatibleChatModel toolCalling native → llama-server',
    chat: OpenAICompatibleChatModel.fromUrl(baseUrl, apiKey),
    model: httpModel,
    capabilities: { forcesCalls: false },
  },
  {
    name: 'LocalLlamaChatModel → llama.cpp in-process (grammar)',
    chat: new LocalLlamaChatModel({
      modelName: TINY_MODEL_NAME,
      modelPath: () => ensureTinyLlamaModel(join(tmpdir(), 'somaagent-test-models')),
    }),
    model: TINY_MODEL_NAME,
    capabilities: { forcesCalls: true },
  },
];
afterAll(async () => {
  for (const s of subjects) await s.chat[Symbol.asyncDispose]();
});

const weather: ChatTool = {
  name: 'get_weather',
  description: 'The weather in a city',
  parameters: {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    properties: {
      city: { type: 'string', enum: ['Paris', 'Oslo', 'Lima'] },
      metric: { type: 'boolean' },
    },
    required: ['city', 'metric'],
    additionalProperties: false,
  },
};
const clock: ChatTool = {
  name: 'get_time',
  parameters: {
    type: 'object',
    properties: { zone: { enum: ['UTC', 'CET'] } },
    required: ['zone'],
    additionalProperties: false,
  },
};
const tools = [weather, clock];
const ajv = new Ajv2020({ strict: false });
const validators = new Map(tools.map((t) => [t.name, ajv.compile(t.parameters)]));
const messages: ChatMessage[] = [{ role: 'user', content: 'What is the weather in Paris?' }];

async function drain(stream: AsyncIterable<ChatStreamChunk>) {
  const chunks: ChatStreamChunk[] = [];
  for await (const c of stream) chunks.push(c);
  return chunks;
}
const streamOf = (chat: ChatModel, request: ChatToolRequest) => {
  if (!chat.streamWithTools) throw new Error(`${chat.kind} has no streamWithTools`);
  return chat.streamWithTools(request);
};

/** The calls the pieces add up to, by index. */
function callsOf(chunks: ChatStreamChunk[]) {
  const calls: { id: string; name?: string; arguments: string }[] = [];
  for (const c of chunks) {
    if (c.type !== 'toolCall') continue;
    const call = calls[c.index] ?? { id: c.id, arguments: '' };
    calls[c.index] = call;
    expect(c.id).toBe(call.id);
    if (c.name) {
      expect(call.name).toBeUndefined();
      call.name = c.name;
    }
    call.arguments += c.argumentsDelta;
  }
  return calls;
}
const finishOf = (chunks: ChatStreamChunk[]) =>
  (chunks.at(-1) as Extract<ChatStreamChunk, { type: 'finish' }>).reason;
const textOf = (chunks: ChatStreamChunk[]) => chunks.map((c) => (c.type === 'delta' ? c.text : '')).join('');

/** Every call has a known name and arguments that parse and validate against its tool's schema. */
function expectValidCalls(calls: ReturnType<typeof callsOf>, allowed: string[]) {
  expect(calls.length).toBeGreaterThan(0);
  for (const call of calls) {
    expect(call.id).toMatch(/\S/);
    expect(allowed).toContain(call.name);
    const validate = validators.get(call.name!)!;
    const args = JSON.parse(call.arguments);
    expect(validate(args), JSON.stringify(validate.errors)).toBe(true);
  }
  expect(new Set(calls.map((c) => c.id)).size).toBe(calls.length);
}

describe.each(subjects)('ChatModel tools contract: $name', ({ chat, model, capabilities }) => {
  it.runIf(capabilities.forcesCalls)(
    '`required` yields calls whose streamed pieces concatenate to arguments valid for the schema',
    async () => {
      const chunks = await drain(
        streamOf(chat, {
          model,
          messages,
          maxTokens: 120,
          tools,
          toolChoice: 'required',
          parallelToolCalls: false,
          temperature: 0,
        }),
      );
      expectValidCalls(callsOf(chunks), ['get_weather', 'get_time']);
      expect(finishOf(chunks)).toBe('tool_calls');
      expect(chunks.map((c) => c.type).slice(-2)).toEqual(['usage', 'finish']);
      // Several pieces for one call: the arguments stream, they do not arrive whole.
      expect(chunks.filter((c) => c.type === 'toolCall' && c.index === 0).length).toBeGreaterThan(1);
    },
  );

  it.runIf(capabilities.forcesCalls)('a named tool choice yields calls of that tool only', async () => {
    const chunks = await drain(
      streamOf(chat, {
        model,
        messages,
        maxTokens: 120,
        tools,
        toolChoice: { name: 'get_time' },
        parallelToolCalls: false,
        temperature: 1,
      }),
    );
    expect(finishOf(chunks)).toBe('tool_calls');
    expectValidCalls(callsOf(chunks), ['get_time']);
  });

  it.runIf(capabilities.forcesCalls)(
    'parallelToolCalls false: exactly one call; true: several in one turn, each with its own index and id',
    async () => {
      const one = callsOf(
        await drain(
          streamOf(chat, {
            model,
            messages,
            maxTokens: 200,
            tools,
            toolChoice: 'required',
            parallelToolCalls: false,
            temperature: 1,
          }),
        ),
      );
      expect(one).toHaveLength(1);
      expectValidCalls(one, ['get_weather', 'get_time']);
      // How many calls the untrained model makes is its draw (the grammar or response schema
      // allows any number): at temperature 1, 200 tokens, a quarter to a half of the turns held 2 to 5 calls
      // in trials. Sampled until a turn has two complete calls, at most 12 times.
      let complete: ReturnType<typeof callsOf> = [];
      for (let attempt = 0; attempt < 12 && complete.length < 2; attempt++) {
        const chunks = await drain(
          streamOf(chat, { model, messages, maxTokens: 200, tools, toolChoice: 'required', temperature: 1 }),
        );
        const calls = callsOf(chunks);
        expect(finishOf(chunks)).toMatch(/^(tool_calls|length)$/);
        // A turn cut by maxTokens may end in half a call.
        complete = finishOf(chunks) === 'length' ? calls.slice(0, -1) : calls;
        expect(calls.every((c) => c !== undefined)).toBe(true);
      }
      expect(complete.length).toBeGreaterThanOrEqual(2);
      expectValidCalls(complete, ['get_weather', 'get_time']);
    },
  );

  it('`auto` (the default) answers in text or calls tools validly, never both', async () => {
    for (const temperature of [0, 1]) {
      const chunks = await drain(streamOf(chat, { model, messages, maxTokens: 60, tools, temperature }));
      const calls = callsOf(chunks);
      if (calls.length) {
        expect(textOf(chunks)).toBe('');
        const complete = finishOf(chunks) === 'length' ? calls.slice(0, -1) : calls;
        if (complete.length) expectValidCalls(complete, ['get_weather', 'get_time']);
      } else expect(finishOf(chunks)).toMatch(/^(stop|length)$/);
      expect(chunks.map((c) => c.type).slice(-2)).toEqual(['usage', 'finish']);
    }
  });

  it('`none` yields text only', async () => {
    const chunks = await drain(streamOf(chat, { model, messages, maxTokens: 12, tools, toolChoice: 'none' }));
    expect(chunks.some((c) => c.type === 'toolCall')).toBe(false);
    expect(textOf(chunks).length).toBeGreaterThan(0);
    expect(finishOf(chunks)).toMatch(/^(stop|length)$/);
  });

  it('accepts a tool call and its result in the history, and answers', async () => {
    const history: ChatMessage[] = [
      ...messages,
      {
        role: 'assistant',
        content: '',
        toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city": "Paris", "metric": true}' }],
      },
      { role: 'tool', toolCallId: 'call_1', content: '{"temperature": 18, "sky": "clear"}' },
    ];
    const chunks = await drain(
      streamOf(chat, { model, messages: history, maxTokens: 12, tools, toolChoice: 'none' }),
    );
    expect(textOf(chunks).length).toBeGreaterThan(0);
    const usage = chunks.find((c) => c.type === 'usage') as Extract<ChatStreamChunk, { type: 'usage' }>;
    const bare = (
      await drain(streamOf(chat, { model, messages, maxTokens: 1, tools, toolChoice: 'none' }))
    ).find((c) => c.type === 'usage') as Extract<ChatStreamChunk, { type: 'usage' }>;
    // The call and its result were rendered into the prompt.
    expect(usage.promptTokens).toBeGreaterThan(bare.promptTokens + 10);
  });

  it('without tools, streamWithTools is stream: text, usage, finish', async () => {
    const chunks = await drain(streamOf(chat, { model, messages, maxTokens: 6 }));
    expect(chunks.some((c) => c.type === 'toolCall')).toBe(false);
    expect(chunks.map((c) => c.type).slice(-2)).toEqual(['usage', 'finish']);
  });

  it.each([
    ['a bad name', [{ ...weather, name: 'get weather!' }], undefined],
    ['a duplicate', [weather, weather], undefined],
    ['parameters not an object schema', [{ ...weather, parameters: { type: 'string' } }], undefined],
    [
      'parameters not a valid JSON Schema',
      [{ ...weather, parameters: { type: 'object', required: 'city' } }],
      undefined,
    ],
    ['a named choice not among the tools', [weather], { name: 'get_time' }],
  ] as const)('refuses %s with ChatToolDefinitionError before sending', async (_, badTools, toolChoice) => {
    const error = await drain(
      streamOf(chat, {
        model,
        messages,
        maxTokens: 4,
        tools: [...badTools],
        ...(toolChoice ? { toolChoice } : {}),
      }),
    ).catch((e) => e);
    expect(error).toBeInstanceOf(ChatToolDefinitionError);
    expect(error.reason).toBe('ERR_CHAT_TOOL_DEFINITION');
    expect(error.retriable).toBe(false);
  });
});

describe('ChatModel tools: llama-server native tools', () => {
  it('sends `required` and gets a well-formed stream back, though the untrained model writes text first', async () => {
    const chat = subjects[1]!.chat;
    const chunks = await drain(
      streamOf(chat, {
        model: httpModel,
        messages,
        maxTokens: 8,
        tools,
        toolChoice: { name: 'get_weather' },
      }),
    );
    expect(chunks.map((c) => c.type).slice(-2)).toEqual(['usage', 'finish']);
    // If a call does come, it is whole and valid.
    const calls = callsOf(chunks);
    if (calls.length) expectValidCalls(calls, ['get_weather']);
  });
});
