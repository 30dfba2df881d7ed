import type { DownloadOptions } from '@somaagent/ports';

/**
 * How a stored artifact is served so that a browser never runs it: its declared media type (a
 * malformed one becomes `application/octet-stream`), never sniffed (`nosniff`), a download
 * (`attachment`) unless the type is on a short list of types browsers only display, and a CSP
 * that allows nothing and sandboxes the document should it be opened anyway.
 */

/** The type served when the declared one is missing or malformed. */
export const FALLBACK_CONTENT_TYPE = 'application/octet-stream';

/** Served on every artifact download: no scripts, styles, frames or requests; a unique origin. */
export const ARTIFACT_CSP = "default-src 'none'; sandbox";

/**
 * Media types (the part before `;`) that browsers display without running anything; these are
 * served `inline`. Every other type — text/html, image/svg+xml, application/xhtml+xml, XML,
 * JavaScript, PDF, unknown ones — is served as an `attachment`.
 */
export const INLINE_CONTENT_TYPES: readonly string[] = [
  'text/plain',
  'text/markdown',
  'text/csv',
  'application/json',
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
];

const TOKEN = "[A-Za-z0-9!#$&^_.+'*`|~-]+";
// RFC 9110 media type: type "/" subtype *( ";" parameter ), parameter values a token or a quoted string.
const MEDIA_TYPE = new RegExp(
  `^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|"[^"\\\\\\x00-\\x1f\\x7f]*"))*$`,
);
const MAX_CONTENT_TYPE = 255;

/** The declared type if it is a well-formed media type (lower-cased type/subtype), else the fallback. */
export function safeContentType(declared: string | null | undefined): string {
  const value = declared?.trim() ?? '';
  if (value.length === 0 || value.length > MAX_CONTENT_TYPE || !MEDIA_TYPE.test(value))
    return FALLBACK_CONTENT_TYPE;
  const semicolon = value.indexOf(';');
  const essence = (semicolon < 0 ? value : value.slice(0, semicolon)).trim().toLowerCase();
  return semicolon < 0 ? essence : `${essence}${value.slice(semicolon)}`;
}

/** `inline` for INLINE_CONTENT_TYPES, `attachment` otherwise, with the file name (RFC 6266). */
export function contentDisposition(contentType: string, filename?: string): string {
  const essence = contentType.split(';')[0]!.trim().toLowerCase();
  const kind = INLINE_CONTENT_TYPES.includes(essence) ? 'inline' : 'attachment';
  if (!filename) return kind;
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const encoded = encodeURIComponent(filename).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** Every response header of an artifact download, by lower-case name. */
export function inertDownloadHeaders(download: DownloadOptions = {}): Record<string, string> {
  const contentType = safeContentType(download.contentType);
  return {
    'content-type': contentType,
    'content-disposition': contentDisposition(contentType, download.filename),
    'x-content-type-options': 'nosniff',
    'content-security-policy': ARTIFACT_CSP,
    'cache-control': 'private, no-store',
  };
}
