import { randomBytes } from 'node:crypto';
import {
  type ChatMessage,
  type ChatTool,
  type ChatToolChoice,
  ChatToolDefinitionError,
  type ChatToolRequest,
} from '@somaagent/ports';
import { Ajv2020 } from 'ajv/dist/2020.js';

/** OpenAI's rule for function names; llama-server and every hosted API accept it. */
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

// One instance: compiling a schema checks it against the 2020-12 meta-schema. strict: false,
// because tool schemas carry keywords of their own (`title`, `examples`, vendor `x-` keys).
const ajv = new Ajv2020({ strict: false, allErrors: false });

/**
 * Refuses definitions no engine can use, before anything is sent: a name outside
 * `^[a-zA-Z0-9_-]{1,64}$`, a duplicate, `parameters` that is not a valid JSON Schema 2020-12 of
 * `type: "object"`, or a named `toolChoice` that is not among the tools.
 */
export function validateChatTools(request: Pick<ChatToolRequest, 'tools' | 'toolChoice'>): void {
  const tools = request.tools ?? [];
  const seen = new Set<string>();
  for (const tool of tools) {
    if (typeof tool?.name !== 'string' || !TOOL_NAME.test(tool.name))
      throw new ChatToolDefinitionError(
        `tool name ${JSON.stringify(tool?.name)} must match ^[a-zA-Z0-9_-]{1,64}$`,
        tool?.name,
      );
    if (seen.has(tool.name))
      throw new ChatToolDefinitionError(`tool "${tool.name}" is defined twice`, tool.name);
    seen.add(tool.name);
    const { parameters } = tool;
    if (
      !parameters ||
      typeof parameters !== 'object' ||
      Array.isArray(parameters) ||
      parameters.type !== 'object'
    )
      throw new ChatToolDefinitionError(
        `tool "${tool.name}": parameters must be a JSON Schema with type "object"`,
        tool.name,
      );
    const dialect = parameters.$schema;
    if (dialect !== undefined && dialect !== 'https://json-schema.org/draft/2020-12/schema')
      throw new ChatToolDefinitionError(
        `tool "${tool.name}": parameters declares $schema ${JSON.stringify(dialect)}; tools take JSON Schema 2020-12 (https://json-schema.org/draft/2020-12/schema, or no $schema)`,
        tool.name,
      );
    try {
      ajv.compile(parameters);
      // Not kept: another request may define a different schema under the same $id.
      ajv.removeSchema(parameters);
    } catch (error) {
      throw new ChatToolDefinitionError(
        `tool "${tool.name}": parameters is not a valid JSON Schema 2020-12: ${(error as Error).message}`,
        tool.name,
      );
    }
  }
  const choice = request.toolChoice;
  if (choice !== undefined && typeof choice === 'object') {
    if (!seen.has(choice.name))
      throw new ChatToolDefinitionError(
        `toolChoice names "${choice.name}", which is not among the tools`,
        choice.name,
      );
  } else if (choice !== undefined && !['auto', 'required', 'none'].includes(choice))
    throw new ChatToolDefinitionError(
      `toolChoice must be auto, required, none or { name }, not ${String(choice)}`,
    );
  else if (choice !== undefined && choice !== 'none' && choice !== 'auto' && !tools.length)
    throw new ChatToolDefinitionError(`toolChoice "${choice}" needs at least one tool`);
}

/** `call_` and 24 random base64url characters, as OpenAI's ids look. */
export const newToolCallId = () => `call_${randomBytes(18).toString('base64url')}`;

/** The tools a choice leaves callable: the named one alone, or all. */
export function callableTools(tools: ChatTool[], choice: ChatToolChoice | undefined): ChatTool[] {
  return typeof choice === 'object' ? tools.filter((t) => t.name === choice.name) : tools;
}

/**
 * The answer format of engines that call tools through a grammar or a response schema (the
 * local engine; an OpenAI-compatible server in `toolCalling: 'json-schema'` mode): one JSON
 * object, `{"tool_calls": [{"name": ..., "arguments": {...}}, ...]}` for calls, or, under
 * `auto`, `{"response": "..."}` for text. `name` comes first so a stream can say which tool is
 * called before its arguments arrive.
 */
export function toolAnswerSchema(
  tools: ChatTool[],
  choice: ChatToolChoice | undefined,
  parallel: boolean,
): Record<string, unknown> {
  const calls = callableTools(tools, choice).map((tool) => ({
    type: 'object',
    properties: { name: { const: tool.name }, arguments: tool.parameters },
    required: ['name', 'arguments'],
    additionalProperties: false,
  }));
  const callList = {
    type: 'object',
    properties: {
      tool_calls: {
        type: 'array',
        items: calls.length === 1 ? calls[0] : { oneOf: calls },
        minItems: 1,
        ...(parallel ? {} : { maxItems: 1 }),
      },
    },
    required: ['tool_calls'],
    additionalProperties: false,
  };
  if (choice === 'required' || typeof choice === 'object') return callList;
  const text = {
    type: 'object',
    properties: { response: { type: 'string' } },
    required: ['response'],
    additionalProperties: false,
  };
  return { oneOf: [text, callList] };
}

/** The system message that tells such a model its tools and the answer format. */
export function toolSystemPrompt(tools: ChatTool[], choice: ChatToolChoice | undefined): string {
  const list = tools
    .map((t) =>
      JSON.stringify({
        name: t.name,
        ...(t.description ? { description: t.description } : {}),
        parameters: t.parameters,
      }),
    )
    .join('\n');
  const how =
    choice === 'none'
      ? 'Do not call a tool now: answer in text.'
      : 'Answer with one JSON object: {"tool_calls": [{"name": <tool name>, "arguments": <object>}]} to call tools' +
        (choice === 'required' || typeof choice === 'object' ? '.' : ', or {"response": <text>} to answer.');
  return `You can call these tools:\n${list}\n${how}`;
}

/**
 * The conversation for a model without native tool turns: assistant tool calls become the JSON
 * answer that made them, tool results user turns that name their call, and the tool system
 * prompt comes first.
 */
export function flattenToolMessages(
  messages: ChatMessage[],
  systemPrompt: string | undefined,
): ChatMessage[] {
  const flat: ChatMessage[] = systemPrompt ? [{ role: 'system', content: systemPrompt }] : [];
  for (const m of messages) {
    if (m.role === 'tool') {
      flat.push({ role: 'user', content: `Result of tool call ${m.toolCallId ?? '?'}:\n${m.content}` });
    } else if (m.role === 'assistant' && m.toolCalls?.length) {
      const calls = m.toolCalls.map(
        (c) => `{"name": ${JSON.stringify(c.name)}, "arguments": ${c.arguments || '{}'}}`,
      );
      flat.push({
        role: 'assistant',
        content: `${m.content ? `${m.content}\n` : ''}{"tool_calls": [${calls.join(', ')}]}`,
      });
    } else flat.push({ role: m.role, content: m.content });
  }
  return flat;
}

export type ToolAnswerEvent =
  | { type: 'text'; text: string }
  | { type: 'call'; index: number; name?: string; argumentsDelta: string };

interface Frame {
  kind: 'object' | 'array';
  key?: string;
  expectingKey: boolean;
  index: number;
}

/**
 * Reads a tool answer (see toolAnswerSchema) as it streams: the text of `response`, decoded, as
 * it grows; for each entry of `tool_calls` its name once complete, then its `arguments` JSON text
 * as it grows (held back until the name is known, whatever order the keys come in).
 */
export class ToolAnswerParser {
  private readonly stack: Frame[] = [];
  private inString = false;
  private escaped = false;
  private stringRaw = '';
  private stringIsKey = false;
  /** Where we are while a string value or the arguments object is read. */
  private stringPath?: string;
  private argsDepth = -1;
  private argsIndex = -1;
  private responseSent = 0;
  private readonly names = new Map<number, string>();
  private readonly heldArgs = new Map<number, string>();
  private readonly announced = new Set<number>();
  /** The text of every call's arguments, by index. */
  readonly arguments = new Map<number, string>();
  /** Whether the answer was a `response` (text) rather than calls. */
  sawResponse = false;
  /** The answer's object is closed: nothing after it matters. */
  done = false;
  private started = false;

  /** A stable path for the top levels: `response`, `tool_calls.<i>.name`, `tool_calls.<i>.arguments`. */
  private path(): string {
    const [root, list, call] = this.stack;
    if (this.stack.length === 1 && root?.kind === 'object') return root.key ?? '';
    if (
      this.stack.length === 3 &&
      root?.key === 'tool_calls' &&
      list?.kind === 'array' &&
      call?.kind === 'object'
    )
      return `tool_calls.${list.index}.${call.key ?? ''}`;
    return '';
  }

  feed(text: string): ToolAnswerEvent[] {
    const events: ToolAnswerEvent[] = [];
    let argsChunk = '';
    const flushArgs = () => {
      if (!argsChunk) return;
      this.emitArgs(this.argsIndex, argsChunk, events);
      argsChunk = '';
    };
    for (const c of text) {
      if (this.argsDepth >= 0) argsChunk += c;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === '"') {
          this.inString = false;
          this.endString(events);
          continue;
        }
        this.stringRaw += c;
        if (this.stringPath === 'response') this.streamResponse(events);
        continue;
      }
      const top = this.stack.at(-1);
      if (c === '"') {
        this.inString = true;
        this.stringRaw = '';
        this.stringIsKey = top?.kind === 'object' && top.expectingKey;
        this.stringPath = this.stringIsKey ? undefined : this.path();
        if (this.stringPath === 'response') this.sawResponse = true;
      } else if (c === '{' || c === '[') {
        if (this.argsDepth < 0 && /^tool_calls\.\d+\.arguments$/.test(this.path())) {
          this.argsDepth = this.stack.length;
          this.argsIndex = this.stack[1]!.index;
          argsChunk = c;
        }
        this.stack.push({ kind: c === '{' ? 'object' : 'array', expectingKey: c === '{', index: 0 });
        this.started = true;
      } else if (c === '}' || c === ']') {
        this.stack.pop();
        if (this.started && !this.stack.length) this.done = true;
        if (this.argsDepth >= 0 && this.stack.length === this.argsDepth) {
          flushArgs();
          this.argsDepth = -1;
        }
      } else if (c === ':') {
        if (top) top.expectingKey = false;
      } else if (c === ',') {
        if (top?.kind === 'object') top.expectingKey = true;
        else if (top) top.index++;
      }
    }
    flushArgs();
    return events;
  }

  private endString(events: ToolAnswerEvent[]) {
    const top = this.stack.at(-1);
    const value = JSON.parse(`"${this.stringRaw}"`) as string;
    if (this.stringIsKey) {
      if (top) top.key = value;
      return;
    }
    if (this.stringPath === 'response') this.streamResponse(events, true);
    const name = /^tool_calls\.(\d+)\.name$/.exec(this.stringPath ?? '');
    if (name) {
      const index = Number(name[1]);
      this.names.set(index, value);
      const held = this.heldArgs.get(index) ?? '';
      this.heldArgs.delete(index);
      this.announced.add(index);
      events.push({ type: 'call', index, name: value, argumentsDelta: held });
    }
    this.stringPath = undefined;
  }

  private emitArgs(index: number, chunk: string, events: ToolAnswerEvent[]) {
    this.arguments.set(index, (this.arguments.get(index) ?? '') + chunk);
    if (this.announced.has(index)) events.push({ type: 'call', index, argumentsDelta: chunk });
    else this.heldArgs.set(index, (this.heldArgs.get(index) ?? '') + chunk);
  }

  /** Sends the decoded response text not sent yet; an escape cut in half waits for its end. */
  private streamResponse(events: ToolAnswerEvent[], complete = false) {
    let raw = this.stringRaw;
    if (!complete) raw = raw.replace(/\\(u[0-9a-fA-F]{0,3})?$/, '');
    let decoded: string;
    try {
      decoded = JSON.parse(`"${raw}"`) as string;
    } catch {
      return;
    }
    // A lone high surrogate waits for its pair.
    if (!complete && /[\uD800-\uDBFF]$/.test(decoded)) decoded = decoded.slice(0, -1);
    if (decoded.length > this.responseSent) {
      events.push({ type: 'text', text: decoded.slice(this.responseSent) });
      this.responseSent = decoded.length;
    }
  }

  /** The calls' count: every index that got a name. */
  get calls(): number {
    return this.names.size;
  }
}

const GRAMMAR_KEYS = new Set([
  'type',
  'const',
  'enum',
  'oneOf',
  'properties',
  'additionalProperties',
  'required',
  'minProperties',
  'maxProperties',
  'items',
  'prefixItems',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  '$defs',
  '$ref',
]);

/**
 * The part of a JSON Schema node-llama-cpp's grammar enforces (its GbnfJsonSchema): types,
 * const, enum, oneOf (anyOf read as oneOf: generating one branch satisfies both), properties,
 * required, additionalProperties, item and length bounds, date formats, local $defs/$ref. Other
 * keywords (minimum, pattern, ...) are dropped here: the grammar cannot hold them, so arguments
 * must still be validated against the full schema before a tool runs.
 */
export function toGrammarSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(toGrammarSchema);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema as Record<string, unknown>)) {
    if (key === 'anyOf') out.oneOf = toGrammarSchema(value);
    else if (key === 'format' && (value === 'date-time' || value === 'date' || value === 'time'))
      out.format = value;
    else if (key === 'properties' || key === '$defs')
      out[key] = Object.fromEntries(
        Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, toGrammarSchema(v)]),
      );
    else if (key === '$ref' && typeof value === 'string' && value.startsWith('#/$defs/')) out.$ref = value;
    else if (GRAMMAR_KEYS.has(key) && key !== '$ref') out[key] = toGrammarSchema(value);
  }
  return out;
}

/** The id of call `index` of one stream: the server's if it sent one, else a new one, then kept. */
export function toolCallIds() {
  const ids: string[] = [];
  return (index: number, fromServer?: string) => {
    const known = ids[index];
    if (known) return known;
    const id = fromServer || newToolCallId();
    ids[index] = id;
    return id;
  };
}
