import { clip, SomaError } from '@somaagent/errors';
import type { Caller } from './capabilities';
import type { MemoryScopeInput, RecallFilter } from './generated/resolvers-types';
import type { ItemFilter, ScopeKey } from './VectorIndex';

export const SCOPE_KINDS = ['TENANT', 'USER', 'SESSION', 'AGENT'] as const;
export type ScopeKind = (typeof SCOPE_KINDS)[number];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids that cannot be a row's are not sent to PostgreSQL (a uuid cast would fail the statement). */
export const isUuid = (id: string): boolean => UUID.test(id);

export const badInput = (field: string, message: string, extra: Record<string, unknown> = {}) =>
  new SomaError('BAD_USER_INPUT', message, { field, ...extra });

/**
 * The stored scope for a requested one; USER is always the caller. The kind is checked again
 * here: callers outside GraphQL (the bridges, the bench) are not held to the schema's enum.
 */
export function resolveScope(caller: Caller, input: MemoryScopeInput | null | undefined): ScopeKey {
  const kind: string = input?.kind ?? 'USER';
  const id = input?.id ?? null;
  if (!(SCOPE_KINDS as readonly string[]).includes(kind)) {
    throw badInput('scope.kind', `unknown scope "${clip(kind)}"; known scopes: ${SCOPE_KINDS.join(', ')}`);
  }
  switch (kind as ScopeKind) {
    case 'TENANT':
      if (id !== null) throw badInput('scope.id', "a TENANT scope takes no id (it is the caller's tenant)");
      return { kind: 'TENANT', id: '' };
    case 'USER':
      if (id !== null && id !== caller.subject) {
        throw new SomaError(
          'FORBIDDEN',
          "a USER scope is the caller's own: another user's memories cannot be reached",
          {
            field: 'scope.id',
          },
        );
      }
      return { kind: 'USER', id: caller.subject };
    default:
      if (id === null || id.trim().length === 0 || id.length > 200) {
        throw badInput(
          'scope.id',
          `a ${kind} scope needs an id of 1-200 characters (the ${kind.toLowerCase()}'s id)`,
        );
      }
      return { kind: kind as ScopeKind, id };
  }
}

/** A metadata object within `maxBytes` serialized; {} when absent. */
export function checkMetadata(value: unknown, field: string, maxBytes: number): Record<string, unknown> {
  if (value == null) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw badInput(field, `${field} must be a JSON object`);
  const size = Buffer.byteLength(JSON.stringify(value));
  if (size > maxBytes) {
    throw badInput(field, `${field} is ${size} bytes serialized; at most ${maxBytes}`, {
      limit: maxBytes,
    });
  }
  return value as Record<string, unknown>;
}

/** A recall filter as the vector index and the keyword search take it. */
export function checkFilter(input: RecallFilter | null | undefined, maxMetadataBytes: number): ItemFilter {
  if (!input) return {};
  const filter: ItemFilter = {};
  if (input.metadata != null)
    filter.metadata = checkMetadata(input.metadata, 'filter.metadata', maxMetadataBytes);
  if (input.kinds?.length) filter.kinds = input.kinds;
  if (input.documentIds?.length) {
    const bad = input.documentIds.find((id) => !isUuid(id));
    if (bad) throw badInput('filter.documentIds', `"${clip(bad)}" is not a document id`);
    filter.documentIds = input.documentIds;
  }
  return filter;
}
