import { describe, expect, it } from 'vitest';
import {
  isMcpError,
  McpAbortedError,
  McpConnectionLostError,
  McpErrorCode,
  McpNotConnectedError,
  McpProtocolError,
  McpServerUnavailableError,
  McpTimeoutError,
  McpUnauthorizedError,
  toSomaError,
} from '../src/index';

// The mapping from the client's codes to the graph's codes; the contract tests show which real
// failure produces which code.
describe('toSomaError', () => {
  it.each([
    new McpServerUnavailableError('down'),
    new McpUnauthorizedError('refused', { status: 401 }),
    new McpConnectionLostError('lost'),
    new McpTimeoutError('slow', { timeoutMs: 5 }),
    new McpAbortedError('cancelled'),
    new McpNotConnectedError('closed'),
  ])('$code is UNAVAILABLE, with mcpCode and the server name', (error) => {
    const soma = toSomaError(error, 'github');
    expect(soma.extensions).toMatchObject({ code: 'UNAVAILABLE', mcpCode: error.code, server: 'github' });
    expect(soma.message).toMatch(/^MCP server "github" /);
  });

  it.each([
    [-32602, 'BAD_USER_INPUT'],
    [-32601, 'BAD_USER_INPUT'],
    [-32603, 'INTERNAL_SERVER_ERROR'],
  ])('a JSON-RPC error %i from the server is %s', (rpcCode, code) => {
    const soma = toSomaError(new McpProtocolError('rejected', { rpcCode }));
    expect(soma.extensions).toMatchObject({
      code,
      reason: 'SERVER_ERROR',
      rpcCode,
      mcpCode: McpErrorCode.PROTOCOL,
    });
  });

  it.each(['OUTPUT_SCHEMA_MISMATCH', 'NO_COMMON_REVISION', 'INVALID_RESPONSE'] as const)(
    '%s is the server’s fault: INTERNAL_SERVER_ERROR',
    (reason) => {
      expect(toSomaError(new McpProtocolError('bad', { reason })).extensions).toMatchObject({
        code: 'INTERNAL_SERVER_ERROR',
        reason,
      });
    },
  );

  it('the graph message never carries the detailed one (stderr, HTTP bodies are for logs)', () => {
    const error = new McpServerUnavailableError('exited; server stderr: TOKEN=abc123 rejected');
    expect(toSomaError(error, 'x').message).not.toContain('abc123');
    const rejected = new McpProtocolError('MCP server x rejected tools/call: ...', {
      rpcCode: -32602,
      cause: new Error('MCP error -32602: invalid cursor 999'),
    });
    expect(toSomaError(rejected).message).toBe(
      'MCP server rejected the request: MCP error -32602: invalid cursor 999',
    );
  });

  it('every class is an McpError named after itself, keeping its cause', () => {
    const cause = new Error('ECONNREFUSED');
    const error = new McpServerUnavailableError('down', { method: 'connect', cause });
    expect(isMcpError(error)).toBe(true);
    expect(error.name).toBe('McpServerUnavailableError');
    expect(error.cause).toBe(cause);
    expect(error.method).toBe('connect');
    expect(isMcpError(new Error('x'))).toBe(false);
  });
});
