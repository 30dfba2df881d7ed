import { GraphQLError } from 'graphql';

/**
 * The stable error codes SomaAgent puts in GraphQL `extensions.code`.
 * Clients switch on these; never rename one, only add.
 */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  BUDGET_EXCEEDED: 'BUDGET_EXCEEDED',
  UNAVAILABLE: 'UNAVAILABLE',
  /** A quota or rate limit was exceeded; `extensions.retryAfter` says in how many seconds to retry. */
  RATE_LIMITED: 'RATE_LIMITED',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** The router runs registered operations only (safelist on) and the request sent query text. */
  PERSISTED_QUERY_REQUIRED: 'PERSISTED_QUERY_REQUIRED',
  /** The safelist has no operation with the id the request named. */
  PERSISTED_QUERY_NOT_FOUND: 'PERSISTED_QUERY_NOT_FOUND',
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
  GRAPHQL_PARSE_FAILED: 'GRAPHQL_PARSE_FAILED',
  GRAPHQL_VALIDATION_FAILED: 'GRAPHQL_VALIDATION_FAILED',
  CSRF_REJECTED: 'CSRF_REJECTED',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** HTTP status the router answers with when a whole request fails with this code. */
export const httpStatusFor: Record<ErrorCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  BAD_USER_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  BUDGET_EXCEEDED: 402,
  UNAVAILABLE: 503,
  RATE_LIMITED: 429,
  PAYLOAD_TOO_LARGE: 413,
  PERSISTED_QUERY_REQUIRED: 403,
  PERSISTED_QUERY_NOT_FOUND: 400,
  QUERY_TOO_COMPLEX: 400,
  GRAPHQL_PARSE_FAILED: 400,
  GRAPHQL_VALIDATION_FAILED: 400,
  CSRF_REJECTED: 403,
  INTERNAL_SERVER_ERROR: 500,
};

/**
 * A GraphQL error with a stable code. Messages say what was wrong and what to do.
 *
 * @example
 * throw new SomaError('BAD_USER_INPUT', 'email "x" is not a valid address', { field: 'email' });
 */
export class SomaError extends GraphQLError {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message, { extensions: { ...details, code } });
    this.code = code;
  }
}

export const isSomaError = (value: unknown): value is SomaError => value instanceof SomaError;

/**
 * What each PostgreSQL SQLSTATE that means "this value cannot be stored" tells the client. The
 * database's own message is not passed on: several quote the offending value (22P02 `invalid
 * input syntax for type uuid: "…"`), which would echo user input back.
 */
const DATABASE_INPUT_ERRORS: Record<string, string> = {
  '22021': 'a text value contains a NUL character or bytes that are not valid UTF-8; remove them and retry',
  '22P05': 'a text value contains a character the database cannot store; remove it and retry',
  '22001': 'a value is longer than the field allows; shorten it and retry',
  '22003': 'a number is out of range for its field',
  '22P02': 'a value does not have the format its field expects (e.g. an id that is not a UUID)',
  '22007': 'a date or time is not valid',
  '22008': 'a date or time is out of range',
  '2200N': 'an XML value is not valid',
  '22025': 'a value contains an invalid escape sequence',
  '22P04': 'a value is not valid input for its field',
  '54000': 'a value is too large to store or index; shorten it and retry',
};

/**
 * The client's error for a database error caused by a value the client sent: every SQLSTATE of
 * class 22 (data exception) but 22000, and 54000 (program limit exceeded: an over-long indexed value) becomes
 * BAD_USER_INPUT with a fixed message and `sqlState`; anything else gives `undefined`, so it stays
 * an internal error. Database adapters apply this to every query.
 */
export function databaseInputError(error: unknown): SomaError | undefined {
  const sqlState = (error as { code?: unknown } | null)?.code;
  // 22000 is the class's catch-all, which extensions raise for their own conditions (pgvector:
  // a vector whose dimension differs from its column's, a server configuration error): not the client's.
  if (typeof sqlState !== 'string' || !/^(22[0-9A-Z]{3}|54000)$/.test(sqlState) || sqlState === '22000')
    return undefined;
  const message = DATABASE_INPUT_ERRORS[sqlState] ?? 'a value is not valid for its field';
  return new SomaError('BAD_USER_INPUT', message, { reason: 'INVALID_VALUE', sqlState });
}

/** At most `max` characters of user input, for an error message (`…` marks a cut). */
export function clip(value: string, max = 40): string {
  return value.length <= max ? value : `${value.slice(0, max)}…`;
}
