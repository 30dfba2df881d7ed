import { databaseInputError } from '@somaagent/errors';

/**
 * What a failed query throws: BAD_USER_INPUT for a value the database cannot store
 * (`databaseInputError`), otherwise the driver's error without the values it carries, so a log
 * line of it holds no message text, password hash or token. PGlite attaches the statement's
 * `params` to its errors; PostgreSQL's `detail` quotes values (`Key (email)=(…) already exists`).
 * The SQL text, SQLSTATE, constraint and message stay for diagnosis.
 */
export function databaseError(error: unknown): unknown {
  const input = databaseInputError(error);
  if (input) return input;
  if (error && typeof error === 'object') {
    const e = error as Record<string, unknown>;
    if ('params' in e) e.params = '[redacted]';
    if ('queryOptions' in e) e.queryOptions = '[redacted]';
    if (typeof e.detail === 'string') e.detail = '[redacted]';
  }
  return error;
}
