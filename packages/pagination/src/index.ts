// Relay cursor pagination over (created_at, id), shared by every subgraph.
import { SomaError } from '@somaagent/errors';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** Position of a row in (created_at, id) order; created_at kept as PostgreSQL's own text to keep microseconds. */
export interface Cursor {
  createdAt: string;
  id: string;
}

export const encodeCursor = (c: Cursor): string =>
  Buffer.from(JSON.stringify([c.createdAt, c.id])).toString('base64url');

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:\d{2})?|Z)$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function decodeCursor(after: string): Cursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(after, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2) {
      const [createdAt, id] = value;
      if (typeof createdAt === 'string' && ISO.test(createdAt) && typeof id === 'string' && UUID.test(id)) {
        return { createdAt, id };
      }
    }
  } catch {
    // fall through to the typed error
  }
  throw new SomaError('BAD_USER_INPUT', 'argument "after" is not a cursor returned by this field', {
    field: 'after',
  });
}

/** Validates Relay arguments. */
export function pageArgs(args: { first?: number | null; after?: string | null }): {
  first: number;
  after: Cursor | null;
} {
  const first = args.first ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
    throw new SomaError('BAD_USER_INPUT', `argument "first" must be between 0 and ${MAX_PAGE_SIZE}`, {
      field: 'first',
    });
  }
  return { first, after: args.after ? decodeCursor(args.after) : null };
}

export interface Connection<Node> {
  edges: { cursor: string; node: Node }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  totalCount: number;
}

/** Builds a connection from up to `first + 1` rows fetched in cursor order. */
export function toConnection<Row extends { cursor_ts: string; id: string }, Node>(
  rows: Row[],
  first: number,
  totalCount: number,
  toNode: (row: Row) => Node,
): Connection<Node> {
  const page = rows.slice(0, first);
  const edges = page.map((row) => ({
    cursor: encodeCursor({ createdAt: row.cursor_ts, id: row.id }),
    node: toNode(row),
  }));
  return {
    edges,
    pageInfo: { hasNextPage: rows.length > first, endCursor: edges.at(-1)?.cursor ?? null },
    totalCount,
  };
}
