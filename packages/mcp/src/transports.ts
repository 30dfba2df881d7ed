import { StreamableHTTPClientTransport, type Transport } from '@modelcontextprotocol/client';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/client/stdio';

/** A local server the client starts as a child process and talks to over its stdin/stdout. */
export interface StdioTransportConfig {
  kind: 'stdio';
  command: string;
  args?: string[];
  /**
   * Added to the SDK's safe default environment (HOME, PATH, ...); the parent's full environment is
   * deliberately not inherited, so secrets in it do not leak to third-party servers.
   */
  env?: Record<string, string>;
  cwd?: string;
}

/** A remote (or local) server reached over Streamable HTTP. */
export interface HttpTransportConfig {
  kind: 'http';
  url: string | URL;
  /** Sent with every request, e.g. `authorization`. */
  headers?: Record<string, string>;
}

export type McpTransportConfig = StdioTransportConfig | HttpTransportConfig;

/** How much of a child server's stderr is kept for error messages. */
const STDERR_TAIL_CHARS = 4_000;

export interface OpenedTransport {
  transport: Transport;
  /** The child's pid for stdio, once started. */
  pid(): number | undefined;
  /** The end of what a stdio server wrote to stderr (its crash report, usually). */
  stderrTail(): string;
  /**
   * Ends a 2025-era Streamable HTTP session (HTTP DELETE), so the server frees it now rather than
   * at its own expiry; nothing to do for stdio or stateless 2026-07-28 connections.
   */
  endSession(): Promise<void>;
}

export function openTransport(config: McpTransportConfig): OpenedTransport {
  if (config.kind === 'http') {
    const transport = new StreamableHTTPClientTransport(new URL(config.url), {
      requestInit: config.headers ? { headers: config.headers } : undefined,
    });
    return {
      transport,
      pid: () => undefined,
      stderrTail: () => '',
      endSession: async () => {
        if (transport.sessionId) await transport.terminateSession();
      },
    };
  }
  const transport = new StdioClientTransport({
    command: config.command,
    args: config.args ?? [],
    env: { ...getDefaultEnvironment(), ...config.env },
    ...(config.cwd ? { cwd: config.cwd } : {}),
    // Piped, not inherited: a server's logs must not interleave with ours, but its last words are
    // worth quoting when it dies.
    stderr: 'pipe',
  });
  let tail = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-STDERR_TAIL_CHARS);
  });
  return {
    transport,
    pid: () => transport.pid ?? undefined,
    stderrTail: () => tail,
    endSession: async () => {},
  };
}

export function describeTransport(config: McpTransportConfig): string {
  return config.kind === 'http'
    ? String(config.url)
    : `"${[config.command, ...(config.args ?? [])].join(' ')}"`;
}
