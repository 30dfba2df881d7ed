import { ChatToolDefinitionError } from '@somaagent/ports';
import { describe, expect, it } from 'vitest';
import {
  flattenToolMessages,
  type ToolAnswerEvent,
  ToolAnswerParser,
  toGrammarSchema,
  toolAnswerSchema,
  validateChatTools,
} from '../src/chatTools';

/** Feeds `text` in pieces of `size` characters and gathers what the parser says. */
function parse(text: string, size: number) {
  const parser = new ToolAnswerParser();
  const events: ToolAnswerEvent[] = [];
  for (let i = 0; i < text.length; i += size) events.push(...parser.feed(text.slice(i, i + size)));
  const calls = new Map<number, { name?: string; args: string }>();
  let response = '';
  for (const e of events) {
    if (e.type === 'text') response += e.text;
    else {
      const call = calls.get(e.index) ?? { args: '' };
      if (e.name) call.name = e.name;
      call.args += e.argumentsDelta;
      calls.set(e.index, call);
    }
  }
  return { parser, events, calls: [...calls.values()], response };
}

describe('ToolAnswerParser', () => {
  const answer =
    '{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris \\"Île\\"", "days": [1, 2], "x": {"}": "]"}}},\n' +
    ' {"name": "get_time", "arguments": {}}]}';

  it.each([1, 2, 3, 7, 1000])(
    'reads calls fed %i characters at a time, braces inside strings included',
    (size) => {
      const { calls, parser, response } = parse(answer, size);
      expect(response).toBe('');
      expect(calls).toEqual([
        { name: 'get_weather', args: '{"city": "Paris \\"Île\\"", "days": [1, 2], "x": {"}": "]"}}' },
        { name: 'get_time', args: '{}' },
      ]);
      expect(parser.calls).toBe(2);
      expect(parser.done).toBe(true);
    },
  );

  it('holds arguments back until the name is known when they come first', () => {
    const { events, calls } = parse('{"tool_calls": [{"arguments": {"a": 1}, "name": "f"}]}', 4);
    expect(calls).toEqual([{ name: 'f', args: '{"a": 1}' }]);
    expect(events[0]).toMatchObject({ type: 'call', index: 0, name: 'f' });
  });

  it.each([1, 5])(
    'streams a response, escapes decoded, an escape cut in two waiting for its end (%i)',
    (size) => {
      const { response, calls, parser } = parse('{"response": "a\\nb \\u00e9\\"c\\\\"}', size);
      expect(response).toBe('a\nb é"c\\');
      expect(calls).toEqual([]);
      expect(parser.sawResponse).toBe(true);
    },
  );
});

describe('validateChatTools', () => {
  const ok = { name: 'f', parameters: { type: 'object', properties: { a: { type: 'string' } } } };

  it('accepts a JSON Schema 2020-12 object and no tools at all', () => {
    expect(() => validateChatTools({ tools: [ok], toolChoice: { name: 'f' } })).not.toThrow();
    expect(() => validateChatTools({})).not.toThrow();
  });

  it('takes a changed schema under the same $id in a later request', () => {
    for (const type of ['string', 'number'])
      expect(() =>
        validateChatTools({
          tools: [
            {
              name: 'f',
              parameters: { $id: 'https://example.com/f', type: 'object', properties: { a: { type } } },
            },
          ],
        }),
      ).not.toThrow();
  });

  it.each([
    ['a name with a space', { tools: [{ ...ok, name: 'a b' }] }],
    ['a name of 65 characters', { tools: [{ ...ok, name: 'x'.repeat(65) }] }],
    ['an array schema', { tools: [{ ...ok, parameters: { type: 'array' } }] }],
    ['an invalid schema', { tools: [{ ...ok, parameters: { type: 'object', properties: 3 } }] }],
    ['an unknown choice', { tools: [ok], toolChoice: 'always' as 'auto' }],
    ['required without tools', { tools: [], toolChoice: 'required' as const }],
    [
      'another dialect',
      {
        tools: [
          { ...ok, parameters: { ...ok.parameters, $schema: 'http://json-schema.org/draft-07/schema#' } },
        ],
      },
    ],
  ])('refuses %s', (_, request) => {
    expect(() => validateChatTools(request)).toThrow(ChatToolDefinitionError);
  });
});

describe('answer schemas', () => {
  const tools = [
    { name: 'f', parameters: { type: 'object', properties: { n: { type: 'integer', minimum: 1 } } } },
    { name: 'g', parameters: { type: 'object', properties: {} } },
  ];

  it('a named choice allows that tool only; no parallel calls means at most one', () => {
    const schema = toolAnswerSchema(tools, { name: 'g' }, false) as {
      properties: { tool_calls: { items: { properties: { name: unknown } }; maxItems?: number } };
    };
    expect(schema.properties.tool_calls.items.properties.name).toEqual({ const: 'g' });
    expect(schema.properties.tool_calls.maxItems).toBe(1);
  });

  it('auto allows a text response or calls', () => {
    expect((toolAnswerSchema(tools, 'auto', true) as { oneOf: unknown[] }).oneOf).toHaveLength(2);
  });

  it('the grammar schema keeps what the grammar holds and reads anyOf as oneOf', () => {
    expect(
      toGrammarSchema({
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        type: 'object',
        properties: { n: { type: 'integer', minimum: 1 }, u: { anyOf: [{ const: 1 }, { type: 'null' }] } },
        required: ['n'],
      }),
    ).toEqual({
      type: 'object',
      properties: { n: { type: 'integer' }, u: { oneOf: [{ const: 1 }, { type: 'null' }] } },
      required: ['n'],
    });
  });

  it('flattens tool turns for engines without them', () => {
    expect(
      flattenToolMessages(
        [
          { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'f', arguments: '{"n": 2}' }] },
          { role: 'tool', toolCallId: 'c1', content: 'four' },
        ],
        'SYS',
      ),
    ).toEqual([
      { role: 'system', content: 'SYS' },
      { role: 'assistant', content: '{"tool_calls": [{"name": "f", "arguments": {"n": 2}}]}' },
      { role: 'user', content: 'Result of tool call c1:\nfour' },
    ]);
  });
});
