import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { GraphQLError } from 'graphql';

/**
 * The operations a safelisting router runs: sha256 (lowercase hex) of the document text → the
 * text. Build it with {@link createPersistedDocuments} or {@link loadPersistedDocuments}, which
 * check every hash against its document.
 */
export interface PersistedDocuments {
  /** The registered document for an id (`<hex>` or `sha256:<hex>`, any case), or null. */
  get(id: string): string | null;
  readonly size: number;
  /**
   * The document a graphql-ws `subscribe` payload or HTTP body will run: its registered document
   * when it names one (`documentId`, `extensions.persistedQuery.sha256Hash`), else null.
   */
  documentFor(params: { documentId?: unknown; extensions?: unknown }): string | null;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const normalizeId = (id: string) => id.replace(/^sha256:/i, '').toLowerCase();

export class PersistedDocumentsError extends Error {
  readonly code = 'ERR_PERSISTED_DOCUMENTS_INVALID';
}

/**
 * From a `{ "<sha256 hex>": "<document>" }` map, or Apollo's persisted query manifest
 * (`{ "format": "apollo-persisted-query-manifest", "version": 1, "operations": [{ "id", "body" }] }`).
 * Throws {@link PersistedDocumentsError} when an entry is not a string or its id is not the
 * sha256 of its text: a safelist that maps a hash to another document would run what nobody
 * registered under that hash.
 */
export function createPersistedDocuments(manifest: unknown): PersistedDocuments {
  const entries: [string, unknown][] = [];
  if (isApolloManifest(manifest)) {
    for (const [i, op] of manifest.operations.entries()) {
      if (typeof op !== 'object' || op === null) {
        throw new PersistedDocumentsError(`operations[${i}] is not an object with "id" and "body"`);
      }
      const { id, body } = op as { id?: unknown; body?: unknown };
      entries.push([typeof id === 'string' ? id : `operations[${i}]`, body]);
    }
  } else if (typeof manifest === 'object' && manifest !== null && !Array.isArray(manifest)) {
    entries.push(...Object.entries(manifest));
  } else {
    throw new PersistedDocumentsError(
      'expected a JSON object { "<sha256 hex>": "<document>" } or an Apollo persisted query manifest',
    );
  }
  const documents = new Map<string, string>();
  for (const [id, text] of entries) {
    const shown = id.length > 80 ? `${id.slice(0, 77)}...` : id;
    if (typeof text !== 'string' || text.trim() === '') {
      throw new PersistedDocumentsError(`the document of "${shown}" is not a non-empty string`);
    }
    const hash = sha256(text);
    if (normalizeId(id) !== hash) {
      throw new PersistedDocumentsError(
        `"${shown}" is not the sha256 of its document (that is ${hash}); ids are the lowercase hex sha256 of the exact text`,
      );
    }
    documents.set(hash, text);
  }
  const get = (id: string) => documents.get(normalizeId(id)) ?? null;
  return {
    get,
    size: documents.size,
    documentFor(params) {
      const id = extractId(params);
      return id === null ? null : get(id);
    },
  };
}

/** Reads a manifest file (see {@link createPersistedDocuments}); errors name the file. */
export function loadPersistedDocuments(path: string): PersistedDocuments {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new PersistedDocumentsError(
      `cannot read persisted documents from ${path}: ${(error as Error).message}`,
    );
  }
  try {
    return createPersistedDocuments(parsed);
  } catch (error) {
    throw new PersistedDocumentsError(`persisted documents in ${path}: ${(error as Error).message}`);
  }
}

function isApolloManifest(value: unknown): value is { operations: unknown[] } {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { format?: unknown }).format === 'apollo-persisted-query-manifest' &&
    Array.isArray((value as { operations?: unknown }).operations)
  );
}

/** `documentId` (GraphQL over HTTP's persisted documents), then Apollo's `persistedQuery`. */
function extractId(params: { documentId?: unknown; extensions?: unknown }): string | null {
  if (typeof params.documentId === 'string' && params.documentId !== '') return params.documentId;
  const pq = (params.extensions as { persistedQuery?: { version?: unknown; sha256Hash?: unknown } } | null)
    ?.persistedQuery;
  return pq?.version === 1 && typeof pq.sha256Hash === 'string' ? pq.sha256Hash : null;
}

const rejection = (code: string, status: number, message: string) => () =>
  new GraphQLError(message, { extensions: { code, http: { status } } });

const notFound = rejection(
  'PERSISTED_QUERY_NOT_FOUND',
  400,
  'no registered operation has this document id; register the operation (its sha256) in the persisted documents manifest',
);
const textRefused = rejection(
  'PERSISTED_QUERY_REQUIRED',
  403,
  'this endpoint runs registered operations only: send "documentId" (or extensions.persistedQuery.sha256Hash) instead of the query text',
);
const noId = rejection(
  'PERSISTED_QUERY_REQUIRED',
  403,
  'this endpoint runs registered operations only: the request names no document id ("documentId" or extensions.persistedQuery.sha256Hash)',
);

/**
 * The safelist's answer to a graphql-ws `subscribe` payload, checked before the gateway sees
 * it (the gateway's plugin throws there, which graphql-ws would turn into closing the socket):
 * null when it names a registered document, else the error the HTTP path gives.
 */
export function refuseUnlisted(
  documents: PersistedDocuments,
  payload: { query?: unknown; documentId?: unknown; extensions?: unknown },
): GraphQLError | null {
  if (typeof payload.query === 'string' && payload.query !== '') return textRefused();
  const id = extractId(payload);
  if (id === null) return noId();
  return documents.get(id) === null ? notFound() : null;
}

/**
 * The gateway runtime's own `persistedDocuments` option (Yoga's persisted operations plugin)
 * over these documents, in safelist mode: query text is refused, every operation must name a
 * registered document, over HTTP (`documentId` in the body or the URL, or
 * `extensions.persistedQuery.sha256Hash`) and graphql-ws alike.
 */
export function gatewayPersistedDocuments(documents: PersistedDocuments) {
  return {
    getPersistedOperation: (id: string) => documents.get(id),
    allowArbitraryDocuments: false,
    customErrors: { notFound, persistedQueryOnly: textRefused, keyNotFound: noId },
  };
}
