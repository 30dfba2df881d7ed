import { clip, SomaError } from '@somaagent/errors';

// Deliberately simple: one @, no spaces, a dot in the domain. Deliverability is the mailer's job.
const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;
const SLUG = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const ROLE_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const MIN_PASSWORD_LENGTH = 12;
// scrypt cost grows with input; cap it so a huge password cannot burn CPU.
const MAX_PASSWORD_LENGTH = 1024;

const bad = (field: string, message: string) => new SomaError('BAD_USER_INPUT', message, { field });

export const isUuid = (value: string): boolean => UUID.test(value);

/** Trims and lowercases; BAD_USER_INPUT naming `field` when it is not an address. */
export function normaliseEmail(value: string, field: string): string {
  const email = value.trim().toLowerCase();
  if (email.length > 254 || !EMAIL.test(email)) {
    throw bad(field, `${field} "${clip(value)}" is not a valid email address (expected name@example.com)`);
  }
  return email;
}

export function checkPassword(value: string, field: string): string {
  if (value.length < MIN_PASSWORD_LENGTH) {
    throw bad(field, `${field} must be at least ${MIN_PASSWORD_LENGTH} characters long`);
  }
  if (value.length > MAX_PASSWORD_LENGTH) {
    throw bad(field, `${field} must be at most ${MAX_PASSWORD_LENGTH} characters long`);
  }
  return value;
}

/** Longer than any secret SomaAgent issues or an operator would configure. */
const MAX_SECRET_LENGTH = 4096;

/**
 * Credentials longer than any account could hold are bad input, not a wrong guess: refusing them
 * with BAD_USER_INPUT tells nothing about whether a tenant or user exists.
 */
export function checkCredentialLengths(fields: Record<string, string>): void {
  const max: Record<string, number> = {
    tenantSlug: 63,
    email: 320,
    password: MAX_PASSWORD_LENGTH,
    secret: MAX_SECRET_LENGTH,
  };
  for (const [field, value] of Object.entries(fields)) {
    const limit = max[field] ?? MAX_SECRET_LENGTH;
    if (value.length > limit) throw bad(field, `${field} is longer than ${limit} characters`);
  }
}

export function checkSlug(value: string, field: string): string {
  if (!SLUG.test(value)) {
    throw bad(
      field,
      `${field} "${clip(value)}" is invalid: use 3-63 lowercase letters, digits and hyphens, not starting or ending with a hyphen`,
    );
  }
  return value;
}

export function checkRoleName(value: string, field: string): string {
  if (!ROLE_NAME.test(value)) {
    throw bad(
      field,
      `${field} "${clip(value)}" is invalid: use up to 63 lowercase letters, digits, '-' and '_', starting with a letter`,
    );
  }
  return value;
}

/** Trimmed, 1..max characters. */
export function checkText(value: string, field: string, max: number): string {
  const text = value.trim();
  if (text.length === 0 || text.length > max)
    throw bad(field, `${field} must be 1 to ${max} characters long`);
  return text;
}

/** De-duplicated, sorted; BAD_USER_INPUT naming the first capability nobody defined. */
export function checkCapabilities(
  values: readonly string[],
  known: ReadonlySet<string>,
  field: string,
): string[] {
  const unknown = values.find((c) => !known.has(c));
  if (unknown !== undefined) {
    throw bad(
      field,
      `capability "${clip(unknown)}" is unknown; known capabilities: ${[...known].sort().join(', ')}`,
    );
  }
  return [...new Set(values)].sort();
}
