import { readFileSync } from 'node:fs';
import { allSteps, type CapsuleDefinition } from '@somaagent/capsule-contract';
import { Ajv, type ErrorObject } from 'ajv';
import { isNode, LineCounter, parseDocument } from 'yaml';

/** The published JSON Schema of capsule definitions (subgraphs/capsules/capsule.schema.json). */
export const capsuleJsonSchema = JSON.parse(
  readFileSync(new URL('../capsule.schema.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;

export interface DefinitionProblem {
  /** JSON Pointer into the definition, e.g. `/steps/2/tool` ('' for the whole document). */
  path: string;
  /** 1-based line and column of the offending value in the source text, when known. */
  line?: number;
  column?: number;
  message: string;
}

export type ParseResult =
  | { ok: true; definition: CapsuleDefinition }
  | { ok: false; problems: DefinitionProblem[] };

const ajv = new Ajv({ allErrors: true, strict: false });
const validateDefinition = ajv.compile(capsuleJsonSchema);

/** Ajv says the same thing once per failed `if/then`; keep what a person needs. */
function describe(error: ErrorObject): string {
  switch (error.keyword) {
    case 'additionalProperties':
      return `unknown property "${(error.params as { additionalProperty: string }).additionalProperty}"`;
    case 'propertyNames':
      return `unknown property "${(error.params as { propertyName: string }).propertyName}" for this step kind`;
    case 'required':
      return `missing required property "${(error.params as { missingProperty: string }).missingProperty}"`;
    case 'enum':
      return `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'pattern':
      return `${error.message} (got ${JSON.stringify(error.data)})`;
    default:
      return error.message ?? 'is invalid';
  }
}

/**
 * Parses a capsule definition written in YAML or JSON (JSON is read by the same YAML 1.2 parser,
 * so positions work for both) and validates it against capsule.schema.json, then checks what a
 * schema cannot say: step ids unique across the definition and `inputs` a compilable JSON Schema.
 *
 * @example
 * const r = parseCapsuleDefinition('name: hello\nversion: 1.0.0\nsteps: []');
 * // r.ok === false; r.problems[0] = { path: '/steps', line: 3, column: 8, message: 'must NOT have fewer than 1 items' }
 */
export function parseCapsuleDefinition(source: string): ParseResult {
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number | undefined) => {
    if (offset === undefined) return {};
    const { line, col } = lines.linePos(offset);
    return { line, column: col };
  };
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => ({
        path: '',
        ...at(e.pos[0]),
        message: `not valid YAML/JSON: ${e.message.split('\n')[0]}`,
      })),
    };
  }
  const value = doc.toJS({ maxAliasCount: 50 }) as unknown;
  const locate = locator(doc, at);

  if (!validateDefinition(value)) {
    const seen = new Set<string>();
    const problems: DefinitionProblem[] = [];
    for (const error of validateDefinition.errors ?? []) {
      if (error.keyword === 'if') continue; // the failing `then` explains it
      if (error.schemaPath.includes('/propertyNames/')) continue; // reported as `propertyNames`
      const message = describe(error);
      const key = `${error.instancePath} ${message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      problems.push({ path: error.instancePath, ...locate(error.instancePath), message });
    }
    return { ok: false, problems };
  }

  const definition = value as CapsuleDefinition;
  const problems: DefinitionProblem[] = [];
  const ids = new Map<string, number>();
  for (const step of allSteps(definition.steps)) ids.set(step.id, (ids.get(step.id) ?? 0) + 1);
  const pointers = stepPointers(definition.steps, '/steps');
  for (const [id, count] of ids) {
    if (count > 1) {
      const pointer = pointers.filter((p) => p.id === id)[1]!.pointer;
      problems.push({
        path: `${pointer}/id`,
        ...locate(`${pointer}/id`),
        message: `step id "${id}" is used ${count} times; ids must be unique in the whole definition`,
      });
    }
  }
  if (definition.inputs) {
    try {
      new Ajv({ strict: false }).compile(definition.inputs);
    } catch (error) {
      problems.push({
        path: '/inputs',
        ...locate('/inputs'),
        message: `inputs is not a valid JSON Schema: ${(error as Error).message}`,
      });
    }
  }
  return problems.length ? { ok: false, problems } : { ok: true, definition };
}

type Position = { line?: number; column?: number };

function locator(doc: ReturnType<typeof parseDocument>, at: (offset: number | undefined) => Position) {
  return (pointer: string): Position => {
    const segments = pointer
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    // The deepest node that exists along the path (a missing property points at its parent).
    for (let n = segments.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(segments.slice(0, n), true);
      if (isNode(node) && node.range) return at(node.range[0]);
    }
    return {};
  };
}

/**
 * Line and column (1-based) of the value at a JSON Pointer in a definition's source, for problems
 * found after parsing (an unknown policy name, ...). Empty when the source does not parse.
 */
export function sourcePosition(source: string, pointer: string): Position {
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) return {};
  return locator(doc, (offset) => {
    if (offset === undefined) return {};
    const { line, col } = lines.linePos(offset);
    return { line, column: col };
  })(pointer);
}

function stepPointers(
  steps: readonly import('@somaagent/capsule-contract').CapsuleStep[],
  base: string,
): { id: string; pointer: string }[] {
  return steps.flatMap((step, i) => {
    const pointer = `${base}/${i}`;
    const own = { id: step.id, pointer };
    if (step.kind === 'branch') {
      return [
        own,
        ...stepPointers(step.steps, `${pointer}/steps`),
        ...stepPointers(step.otherwise ?? [], `${pointer}/otherwise`),
      ];
    }
    if (step.kind === 'parallel') {
      return [own, ...step.branches.flatMap((b, j) => stepPointers(b, `${pointer}/branches/${j}`))];
    }
    return [own];
  });
}

/** Validates run inputs against a capsule's `inputs` schema; problems carry JSON Pointers. */
export function validateInputs(
  schema: Record<string, unknown> | undefined,
  inputs: unknown,
): { ok: true } | { ok: false; problems: DefinitionProblem[] } {
  if (!schema) return { ok: true };
  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
  if (validate(inputs)) return { ok: true };
  return {
    ok: false,
    problems: (validate.errors ?? []).map((e) => ({ path: e.instancePath, message: describe(e) })),
  };
}
