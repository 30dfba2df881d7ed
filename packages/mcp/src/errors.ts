import { ProtocolError, SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import { clip, SomaError } from '@somaagent/errors';

/**
 * Stable codes of the MCP client's errors. Callers (the tools subgraph, the agent loop) switch on
 * these; never rename one, only add.
 */
export const McpErrorCode = {
  /** The server could not be reached or started (spawn failed, connection refused, exited during the handshake). */
  SERVER_UNAVAILABLE: 'ERR_MCP_SERVER_UNAVAILABLE',
  /** The server refused the credentials (HTTP 401/403): the configured token is missing, wrong or expired. */
  UNAUTHORIZED: 'ERR_MCP_UNAUTHORIZED',
  /** The connection was lost while a request was in flight (the server crashed or closed it). */
  CONNECTION_LOST: 'ERR_MCP_CONNECTION_LOST',
  /** The server answered with a JSON-RPC error, or with something the protocol does not allow. */
  PROTOCOL: 'ERR_MCP_PROTOCOL',
  /** The server did not answer within the request's timeout. */
  TIMEOUT: 'ERR_MCP_TIMEOUT',
  /** The caller's AbortSignal fired; the request was cancelled (a `notifications/cancelled` was sent). */
  ABORTED: 'ERR_MCP_ABORTED',
  /** A request was made before `connect()`, after `close()`, or after the connection was lost. */
  NOT_CONNECTED: 'ERR_MCP_NOT_CONNECTED',
} as const;
export type McpErrorCode = (typeof McpErrorCode)[keyof typeof McpErrorCode];

/** Base class of every error the MCP client throws; `code` is stable, `cause` keeps the SDK's error. */
export class McpError extends Error {
  readonly code: McpErrorCode;
  /** The MCP method the failure happened in (`initialize`, `tools/call`, ...), when known. */
  readonly method: string | undefined;
  constructor(code: McpErrorCode, message: string, options: { method?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.method = options.method;
  }
}

export class McpServerUnavailableError extends McpError {
  constructor(message: string, options: { method?: string; cause?: unknown } = {}) {
    super(McpErrorCode.SERVER_UNAVAILABLE, message, options);
  }
}

export class McpUnauthorizedError extends McpError {
  readonly status: number;
  constructor(message: string, options: { method?: string; cause?: unknown; status: number }) {
    super(McpErrorCode.UNAUTHORIZED, message, options);
    this.status = options.status;
  }
}

export class McpConnectionLostError extends McpError {
  constructor(message: string, options: { method?: string; cause?: unknown } = {}) {
    super(McpErrorCode.CONNECTION_LOST, message, options);
  }
}

/**
 * - `SERVER_ERROR`: the server answered with a JSON-RPC error (`rpcCode` says which).
 * - `OUTPUT_SCHEMA_MISMATCH`: a tool's `structuredContent` is missing or does not match its `outputSchema`.
 * - `INVALID_RESPONSE`: the answer is not what the protocol allows.
 * - `NO_COMMON_REVISION`: the server does not speak the revision the client was pinned to.
 */
export type McpProtocolErrorReason =
  | 'SERVER_ERROR'
  | 'OUTPUT_SCHEMA_MISMATCH'
  | 'INVALID_RESPONSE'
  | 'NO_COMMON_REVISION';

export class McpProtocolError extends McpError {
  readonly reason: McpProtocolErrorReason;
  /** The JSON-RPC error code the server sent (`-32602` invalid params, `-32601` method not found, ...), if it sent one. */
  readonly rpcCode: number | undefined;
  constructor(
    message: string,
    options: { method?: string; cause?: unknown; rpcCode?: number; reason?: McpProtocolErrorReason } = {},
  ) {
    super(McpErrorCode.PROTOCOL, message, options);
    this.reason = options.reason ?? (options.rpcCode === undefined ? 'INVALID_RESPONSE' : 'SERVER_ERROR');
    this.rpcCode = options.rpcCode;
  }
}

export class McpTimeoutError extends McpError {
  readonly timeoutMs: number | undefined;
  constructor(message: string, options: { method?: string; cause?: unknown; timeoutMs?: number } = {}) {
    super(McpErrorCode.TIMEOUT, message, options);
    this.timeoutMs = options.timeoutMs;
  }
}

export class McpAbortedError extends McpError {
  constructor(message: string, options: { method?: string; cause?: unknown } = {}) {
    super(McpErrorCode.ABORTED, message, options);
  }
}

export class McpNotConnectedError extends McpError {
  constructor(message: string, options: { method?: string; cause?: unknown } = {}) {
    super(McpErrorCode.NOT_CONNECTED, message, options);
  }
}

export const isMcpError = (value: unknown): value is McpError => value instanceof McpError;

/** JSON-RPC codes the spec gives to "the caller sent something wrong" (unknown tool, bad arguments). */
const CALLER_RPC_CODES = new Set([-32602, -32601]);

/**
 * What the graph says for each failure. Fixed sentences, not `error.message`: that one quotes the
 * server's stderr and HTTP bodies, which are for the operator's logs, not for API callers.
 */
const GRAPH_MESSAGES: Record<McpErrorCode, string> = {
  ERR_MCP_SERVER_UNAVAILABLE:
    'could not be started or reached; try again later or ask an administrator to check it',
  ERR_MCP_UNAUTHORIZED: 'refused the credentials configured for it; an administrator must update its secret',
  ERR_MCP_CONNECTION_LOST: 'went away during the call; try again',
  ERR_MCP_TIMEOUT: 'did not answer in time; try again later',
  ERR_MCP_ABORTED: 'call was cancelled',
  ERR_MCP_NOT_CONNECTED: 'is not connected; try again',
  ERR_MCP_PROTOCOL: 'answered in a way the protocol does not allow',
};

/**
 * The GraphQL error for an MCP failure, for the graph's `extensions.code`: a server that is down,
 * lost, slow or refusing our credentials (or a call the caller cancelled) is UNAVAILABLE; a
 * request the server rejected as invalid (invalid params, unknown method) is BAD_USER_INPUT with
 * the server's own message; anything else is INTERNAL_SERVER_ERROR. `mcpCode` carries the
 * client's code.
 */
export function toSomaError(error: McpError, serverName?: string): SomaError {
  const details = { mcpCode: error.code, ...(serverName ? { server: serverName } : {}) };
  const message = `MCP server ${serverName ? `"${serverName}" ` : ''}${GRAPH_MESSAGES[error.code]}`;
  switch (error.code) {
    case McpErrorCode.SERVER_UNAVAILABLE:
    // The platform's credentials for the server, not the graph caller's: not UNAUTHENTICATED.
    case McpErrorCode.UNAUTHORIZED:
    case McpErrorCode.CONNECTION_LOST:
    case McpErrorCode.TIMEOUT:
    case McpErrorCode.NOT_CONNECTED:
    // The platform has no "cancelled" code; the caller who aborted knows why, `mcpCode` tells others.
    case McpErrorCode.ABORTED:
      return new SomaError('UNAVAILABLE', message, details);
    case McpErrorCode.PROTOCOL: {
      const { rpcCode, reason } = error as McpProtocolError;
      // The server's words on what was wrong with the request are what the caller needs to fix it.
      if (reason === 'SERVER_ERROR' && rpcCode !== undefined && CALLER_RPC_CODES.has(rpcCode))
        return new SomaError(
          'BAD_USER_INPUT',
          `MCP server rejected the request: ${clip(serverMessage(error), 300)}`,
          {
            ...details,
            reason,
            rpcCode,
          },
        );
      return new SomaError('INTERNAL_SERVER_ERROR', message, { ...details, reason, rpcCode });
    }
  }
}

function serverMessage(error: McpError): string {
  return error.cause instanceof Error ? error.cause.message : error.message;
}

/** Connection-level failures of Node's networking and of `fetch` (`TypeError: fetch failed` wraps one of these). */
const NETWORK_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENOENT',
  'EACCES',
  'EPIPE',
]);

/** The errno (or `fetch failed`) of a network failure anywhere in the cause chain, if it is one. */
function networkFailure(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current && depth < 6; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_ERRNOS.has(code)) return code;
    if (current instanceof TypeError && /fetch failed/i.test(current.message)) {
      const inner = (current as { cause?: { code?: unknown; message?: unknown } }).cause;
      return typeof inner?.code === 'string' ? inner.code : String(inner?.message ?? 'fetch failed');
    }
    current =
      (current as { cause?: unknown }).cause ?? (current as { data?: { cause?: unknown } }).data?.cause;
  }
  return undefined;
}

export interface ClassifyContext {
  method: string;
  /** True while connecting: a connection that closes now means the server never came up. */
  connecting: boolean;
  signal: AbortSignal | undefined;
  timeoutMs: number | undefined;
  serverLabel: string;
}

/** Maps whatever the SDK, the transport or the network threw to one of our stable error classes. */
export function classifyError(error: unknown, context: ClassifyContext): McpError {
  if (error instanceof McpError) return error;
  const { method, serverLabel } = context;
  const options = { method, cause: error };
  if (context.signal?.aborted)
    return new McpAbortedError(`${method} to MCP server ${serverLabel} was cancelled by the caller`, options);
  const detail = clip(error instanceof Error ? error.message : String(error), 500);
  const lost = (why: string) =>
    context.connecting
      ? new McpServerUnavailableError(
          `MCP server ${serverLabel} is unreachable or exited during ${method} (${why}); check that it runs`,
          options,
        )
      : new McpConnectionLostError(
          `the connection to MCP server ${serverLabel} was lost during ${method} (${why}); reconnect and retry`,
          options,
        );
  if (error instanceof SdkError) {
    switch (error.code) {
      case SdkErrorCode.RequestTimeout:
        return new McpTimeoutError(
          `MCP server ${serverLabel} did not answer ${method} within ${context.timeoutMs ?? '?'} ms; retry later or raise the timeout`,
          { ...options, timeoutMs: context.timeoutMs },
        );
      case SdkErrorCode.ConnectionClosed:
      case SdkErrorCode.SendFailed:
      case SdkErrorCode.NotConnected:
        return lost(networkFailure(error) ?? 'the server exited or closed the connection');
      case SdkErrorCode.EraNegotiationFailed:
        if (!networkFailure(error))
          return new McpProtocolError(
            `MCP server ${serverLabel} does not support the protocol revision asked for (${detail}); connect with protocol 'auto' to accept 2025-11-25`,
            { ...options, reason: 'NO_COMMON_REVISION' },
          );
    }
  }
  const network = networkFailure(error);
  if (network) return lost(network);
  // The SDK raises this one itself, as a ProtocolError, after checking a tool's result locally.
  if (error instanceof ProtocolError && /output schema/i.test(detail))
    return new McpProtocolError(`MCP server ${serverLabel} answered ${method} with ${detail}`, {
      ...options,
      reason: 'OUTPUT_SCHEMA_MISMATCH',
    });
  if (error instanceof ProtocolError)
    return new McpProtocolError(`MCP server ${serverLabel} rejected ${method}: ${detail}`, {
      ...options,
      rpcCode: error.code,
    });
  // HTTP status errors of the Streamable HTTP transport (404 on a wrong path, 502 from a proxy).
  const status = (error as { status?: unknown }).status;
  if (status === 401 || status === 403)
    return new McpUnauthorizedError(
      `MCP server ${serverLabel} refused the credentials (HTTP ${status}) for ${method}; check the token configured for it`,
      { ...options, status },
    );
  if (context.connecting && typeof status === 'number' && status >= 400 && status < 600)
    return new McpServerUnavailableError(
      `MCP server ${serverLabel} answered HTTP ${status} to ${method}: ${detail}`,
      options,
    );
  return new McpProtocolError(
    `MCP server ${serverLabel} broke the protocol in ${method}: ${detail}`,
    options,
  );
}
