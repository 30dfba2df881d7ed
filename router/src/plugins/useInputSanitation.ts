import type { GatewayPlugin } from '@graphql-hive/gateway-runtime';
import { SomaError } from '@somaagent/errors';
import { type DocumentNode, Kind, visit } from 'graphql';

export interface InputSanitationOptions {
  /**
   * Characters one string value may have (variables and inline literals alike). Fields have
   * their own, mostly smaller, limits; this one bounds what reaches any resolver. The default is
   * the longest value a field accepts (a memory document).
   * @default 1_000_000
   */
  maxStringLength?: number;
  /**
   * Remove graphql-js's "Did you mean …?" hints (field, argument, type and enum-value names) from
   * every error, validation and variable coercion alike: they reveal schema names to clients
   * that cannot introspect. Turn on when introspection is off.
   * @default true
   */
  hideSuggestions?: boolean;
}

/** What replaces a hint (graphql-armor's wording, so both read the same). */
const SUGGESTION_MASK = '[Suggestion hidden]';
const SUGGESTION = /Did you mean [^?]*\?/g;

/** Hides the hints in place; `errors` may be GraphQLErrors or plain objects a subgraph returned. */
function hideHints(errors: readonly unknown[] | undefined): void {
  for (const error of errors ?? []) {
    const e = error as { message?: unknown };
    if (typeof e?.message === 'string' && e.message.includes('Did you mean'))
      e.message = e.message.replace(SUGGESTION, SUGGESTION_MASK);
  }
}

const resultErrors = (result: unknown): readonly unknown[] | undefined =>
  result && typeof result === 'object' && 'errors' in result && Array.isArray(result.errors)
    ? result.errors
    : undefined;

/**
 * C0 controls other than tab, line feed and carriage return, DEL, C1 controls, and UTF-16
 * surrogates that are not part of a pair (JSON `"\ud800"` parses into one; as UTF-8 it would be
 * stored as U+FFFD, silently changing the value). No `u` flag: the pattern works on code units.
 */
const FORBIDDEN =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const describe = (value: string): string => {
  const match = FORBIDDEN.exec(value);
  if (!match) return '';
  const unit = match[0].charCodeAt(0);
  const name = unit >= 0xd800 && unit <= 0xdfff ? 'an unpaired UTF-16 surrogate' : 'a control character';
  return `${name} (U+${unit.toString(16).toUpperCase().padStart(4, '0')}) at position ${match.index}`;
};

interface Problem {
  where: string;
  what: string;
}

function checkString(value: string, where: string, max: number): Problem | undefined {
  if (value.length > max)
    return { where, what: `is ${value.length} characters long; at most ${max} are accepted` };
  const what = describe(value);
  return what ? { where, what: `contains ${what}` } : undefined;
}

/** Walks a JSON value (variables): every string and every object key. */
function checkValue(value: unknown, where: string, max: number, depth = 0): Problem | undefined {
  if (typeof value === 'string') return checkString(value, where, max);
  if (depth > 64 || value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = checkValue(value[i], `${where}[${i}]`, max, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  for (const [key, inner] of Object.entries(value)) {
    const keyProblem = checkString(key, `a key in ${where}`, 1_000);
    if (keyProblem) return keyProblem;
    const problem = checkValue(inner, `${where}.${key.slice(0, 40)}`, max, depth + 1);
    if (problem) return problem;
  }
  return undefined;
}

const literalProblems = new WeakMap<DocumentNode, Problem | null>();

/** Inline string literals of a document (block strings included); remembered per parsed document. */
function checkDocument(document: DocumentNode, max: number): Problem | undefined {
  const known = literalProblems.get(document);
  if (known !== undefined) return known ?? undefined;
  let found: Problem | undefined;
  visit(document, {
    [Kind.STRING]: (node) => {
      found ??= checkString(node.value, `a string literal at line ${node.loc?.startToken.line ?? '?'}`, max);
    },
  });
  literalProblems.set(document, found ?? null);
  return found;
}

function rejection(problem: Problem): SomaError {
  return new SomaError(
    'BAD_USER_INPUT',
    `${problem.where} ${problem.what}: send text without control characters (tab and newlines are fine) as valid Unicode`,
    { reason: 'INVALID_STRING', http: { status: 400 } },
  );
}

/**
 * Refuses, before any resolver or subgraph sees it, an operation whose variables or inline string
 * literals hold a control character, NUL, an unpaired surrogate or an over-long value: 400
 * BAD_USER_INPUT (reason INVALID_STRING) over HTTP, the same error over WebSocket. Databases reject
 * such text deep down (PostgreSQL: SQLSTATE 22021), which used to surface as a 500.
 * With `hideSuggestions`, also masks "Did you mean" hints (graphql-armor's blockFieldSuggestion
 * misses enum values and variable errors).
 */
export function useInputSanitation(options: InputSanitationOptions = {}): GatewayPlugin {
  const max = options.maxStringLength ?? 1_000_000;
  const check = (document: DocumentNode, variables: unknown, operationName: unknown) =>
    (typeof operationName === 'string' ? checkString(operationName, 'operationName', 1_000) : undefined) ??
    checkValue(variables, 'variables', max) ??
    checkDocument(document, max);
  const hide = options.hideSuggestions ?? true;
  return {
    onValidate() {
      if (!hide) return;
      return ({ valid, result }) => {
        if (!valid) hideHints(result);
      };
    },
    onExecute({ args, setResultAndStopExecution }) {
      const problem = check(args.document, args.variableValues, args.operationName);
      if (problem) setResultAndStopExecution({ errors: [rejection(problem)] });
      if (!hide) return;
      // Variable coercion ("Value "X" does not exist in "E" enum. Did you mean …") fails inside execute.
      return { onExecuteDone: ({ result }) => hideHints(resultErrors(result)) };
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const problem = check(args.document, args.variableValues, args.operationName);
      if (problem) setResultAndStopExecution({ errors: [rejection(problem)] });
      if (!hide) return;
      return { onSubscribeResult: ({ result }) => hideHints(resultErrors(result)) };
    },
  };
}
