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
