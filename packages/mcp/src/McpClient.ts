import {
  type CallToolResult,
  Client,
  type GetPromptResult,
  type Implementation,
  type Prompt,
  type ReadResourceResult,
  type Resource,
  type ResourceTemplateType,
  type ResultTypeMap,
  SdkError,
  SdkErrorCode,
  type ServerCapabilities,
  type Tool,
  type VersionNegotiationOptions,
} from '@modelcontextprotocol/client';
import { classifyError, type McpError, McpNotConnectedError } from './errors';
import {
  describeTransport,
  type McpTransportConfig,
  type OpenedTransport,
  openTransport,
} from './transports';

export type McpTool = Tool;
export type McpResource = Resource;
export type McpResourceTemplate = ResourceTemplateType;
export type McpPrompt = Prompt;
export type McpToolResult = CallToolResult;
export type McpResourceContents = ReadResourceResult;
export type McpPromptResult = GetPromptResult;

/** The revisions this client speaks. 2026-07-28 is stateless (`server/discover`, no `initialize`). */
export const MCP_PROTOCOL_REVISIONS = ['2026-07-28', '2025-11-25'] as const;

/**
 * - `'auto'`: probe with `server/discover`; a 2026-07-28 server gets the stateless revision, any
 *   other falls back to the 2025-11-25 `initialize` handshake (which also accepts older servers).
 * - `'2026-07-28'`: the stateless revision or a failed connect.
 * - `'2025-11-25'`: skip the probe, `initialize` directly (saves a round trip, or on stdio a spawn,
 *   for servers known to be old).
 */
export type McpProtocolChoice = 'auto' | (typeof MCP_PROTOCOL_REVISIONS)[number];

export interface McpClientOptions {
  transport: McpTransportConfig;
  /** @default 'auto' */
  protocol?: McpProtocolChoice;
  /** Name shown in errors and logs, e.g. the registry's server name. @default the command or URL */
  label?: string;
  /** Per-request timeout when the call passes none. @default 30_000 */
  requestTimeoutMs?: number;
  /** Timeout of the whole connect (spawn or first request, probe, handshake). @default 15_000 */
  connectTimeoutMs?: number;
  /** Upper bound on pages walked by a list call, against servers whose cursors never end. @default 64 */
  maxListPages?: number;
  /** @default { name: 'somaagent', version: '0.1.0' } */
  clientInfo?: Implementation;
}

export interface McpRequestOptions {
  signal?: AbortSignal;
  /** Overrides `requestTimeoutMs` for this call. */
  timeoutMs?: number;
}

export interface McpCallToolOptions extends McpRequestOptions {
  /**
   * The definition to validate `structuredContent` against (e.g. the one pinned at approval).
   * @default the definition from the last `listTools()`, if any
   */
  tool?: McpTool;
  /** Progress notifications from the server; each one also restarts the timeout. */
  onProgress?: (progress: { progress: number; total?: number; message?: string }) => void;
}

export interface McpPage<T> {
  items: T[];
  /** Absent on the last page. */
  nextCursor?: string;
}

export interface McpServerInfo {
  name: string;
  version: string;
  title?: string;
  /** The revision agreed on, e.g. `2026-07-28` or `2025-11-25`. */
  protocolVersion: string;
  /** `modern` for 2026-07-28 and later (stateless), `legacy` for the 2025 revisions. */
  era: 'modern' | 'legacy';
  capabilities: ServerCapabilities;
  instructions?: string;
}

/** `lost`: the server went away; `connect()` again starts afresh. `closed`: `close()` was called. */
export type McpClientState = 'idle' | 'connecting' | 'connected' | 'lost' | 'closed';

const NEGOTIATION: Record<McpProtocolChoice, VersionNegotiationOptions> = {
  auto: { mode: 'auto' },
  '2026-07-28': { mode: { pin: '2026-07-28' } },
  '2025-11-25': { mode: 'legacy' },
};

/**
 * A client for one MCP server, on the official TypeScript SDK (v2): our options, our stable errors
 * (`McpError` subclasses, `code` = `ERR_MCP_*`), full pagination, and reconnect after a crash.
 *
 * @example
 * await using client = new McpClient({ transport: { kind: 'stdio', command: 'mcp-server-memory' } });
 * await client.connect();
 * const tools = await client.listTools();
 * const result = await client.callTool('read_graph', {}, { timeoutMs: 5_000 });
 */
export class McpClient implements AsyncDisposable {
  readonly #options: McpClientOptions;
  readonly #label: string;
  #state: McpClientState = 'idle';
  #sdk: Client | undefined;
  #opened: OpenedTransport | undefined;
  #info: McpServerInfo | undefined;
  #tools = new Map<string, McpTool>();
  /** Bumped by every connect() and close(), so a connect() overtaken by close() knows it. */
  #generation = 0;
  /** Rejects when the current connection is lost; raced against every request. */
  #lost: Promise<never> | undefined;

  constructor(options: McpClientOptions) {
    this.#options = options;
    this.#label = options.label ?? describeTransport(options.transport);
  }

  /** `connected` once `connect()` succeeded; `lost` after the server went away (call `connect()` again). */
  get state(): McpClientState {
    return this.#state;
  }

  get serverInfo(): McpServerInfo | undefined {
    return this.#info;
  }

  /** The pid of a stdio server's process while connected. */
  get pid(): number | undefined {
    return this.#state === 'connected' ? this.#opened?.pid() : undefined;
  }

  /**
   * Starts or reaches the server and agrees on a protocol revision. Called again after the
   * connection was lost, it starts afresh (a new process for stdio).
   */
  async connect(options: { signal?: AbortSignal } = {}): Promise<McpServerInfo> {
    if (this.#state === 'connected' && this.#info) return this.#info;
    if (this.#state === 'connecting')
      throw new McpNotConnectedError(`a connect() to ${this.#label} is already running`);
    const generation = ++this.#generation;
    this.#state = 'connecting';
    await this.#teardown();
    if (generation !== this.#generation)
      throw new McpNotConnectedError(`close() was called while connecting to ${this.#label}`, {
        method: 'connect',
      });
    const sdk = new Client(this.#options.clientInfo ?? { name: 'somaagent', version: '0.1.0' }, {
      versionNegotiation: NEGOTIATION[this.#options.protocol ?? 'auto'],
      listMaxPages: this.#options.maxListPages ?? 64,
    });
    const opened = openTransport(this.#options.transport);
    this.#sdk = sdk;
    this.#opened = opened;
    const watch = this.#watch(sdk);
    const timeoutMs = this.#options.connectTimeoutMs ?? 15_000;
    try {
      await sdk.connect(opened.transport, { timeout: timeoutMs, signal: options.signal });
    } catch (error) {
      if (this.#sdk !== sdk)
        throw new McpNotConnectedError(`close() was called while connecting to ${this.#label}`, {
          method: 'connect',
          cause: error,
        });
      const failure = this.#classify(error, 'connect', true, options.signal, timeoutMs);
      if (this.#state === 'connecting') this.#state = 'idle';
      if (this.#sdk === sdk) await this.#teardown();
      throw failure;
    }
    // close() during the handshake tore this connection down already.
    if (this.#sdk !== sdk)
      throw new McpNotConnectedError(`close() was called while connecting to ${this.#label}`, {
        method: 'connect',
      });
    if (watch.gone()) {
      this.#state = 'idle';
      await this.#teardown();
      throw this.#classify(
        new SdkError(SdkErrorCode.ConnectionClosed, 'closed right after the handshake'),
        'connect',
        true,
      );
    }
    const server = sdk.getServerVersion();
    const protocolVersion = sdk.getNegotiatedProtocolVersion() ?? 'unknown';
    this.#info = {
      name: server?.name ?? 'unknown',
      version: server?.version ?? 'unknown',
      ...(server?.title ? { title: server.title } : {}),
      protocolVersion,
      era: sdk.getProtocolEra() === 'modern' ? 'modern' : 'legacy',
      capabilities: sdk.getServerCapabilities() ?? {},
      ...(sdk.getInstructions() ? { instructions: sdk.getInstructions() } : {}),
    };
    this.#state = 'connected';
    return this.#info;
  }

  /**
   * Every tool, walking all pages (up to `maxListPages`). Remembers the definitions for
   * `callTool`'s output validation.
   */
  async listTools(options: McpRequestOptions = {}): Promise<McpTool[]> {
    const tools = await this.#request('tools/list', options, async (sdk, request) => {
      // Checked here rather than by the SDK, which logs to the console when it is missing.
      if (!sdk.getServerCapabilities()?.tools) return [];
      return (await sdk.listTools(undefined, { ...request, cacheMode: 'bypass' })).tools;
    });
    this.#tools = new Map(tools.map((tool) => [tool.name, tool]));
    return tools;
  }

  /** One page of tools, for callers that page themselves (`cursor` from the previous page's `nextCursor`). */
  listToolsPage(cursor: string | undefined, options: McpRequestOptions = {}): Promise<McpPage<McpTool>> {
    return this.#page('tools', 'tools/list', cursor, options, (result) => result.tools);
  }

  /**
   * Calls a tool. A tool that ran and failed is not an exception: the result has `isError: true`.
   * `structuredContent` is validated against the tool's `outputSchema` when the definition is
   * known (`options.tool`, or from `listTools()`); a mismatch throws `McpProtocolError`.
   */
  callTool(
    name: string,
    args: Record<string, unknown> = {},
    options: McpCallToolOptions = {},
  ): Promise<McpToolResult> {
    const tool = options.tool ?? this.#tools.get(name);
    const onProgress = options.onProgress;
    return this.#request('tools/call', options, async (sdk, request) => {
      const result = await sdk.callTool(
        { name, arguments: args },
        {
          ...request,
          ...(tool ? { toolDefinition: tool } : {}),
          ...(onProgress ? { onprogress: onProgress, resetTimeoutOnProgress: true } : {}),
        },
      );
      return result as McpToolResult;
    });
  }

  async listResources(options: McpRequestOptions = {}): Promise<McpResource[]> {
    return this.#request('resources/list', options, async (sdk, request) => {
      // Checked here rather than by the SDK, which logs to the console when it is missing.
      if (!sdk.getServerCapabilities()?.resources) return [];
      return (await sdk.listResources(undefined, { ...request, cacheMode: 'bypass' })).resources;
    });
  }

  listResourcesPage(
    cursor: string | undefined,
    options: McpRequestOptions = {},
  ): Promise<McpPage<McpResource>> {
    return this.#page('resources', 'resources/list', cursor, options, (result) => result.resources);
  }

  async listResourceTemplates(options: McpRequestOptions = {}): Promise<McpResourceTemplate[]> {
    return this.#request('resources/templates/list', options, async (sdk, request) => {
      // Checked here rather than by the SDK, which logs to the console when it is missing.
      if (!sdk.getServerCapabilities()?.resources) return [];
      return (await sdk.listResourceTemplates(undefined, { ...request, cacheMode: 'bypass' }))
        .resourceTemplates;
    });
  }

  readResource(uri: string, options: McpRequestOptions = {}): Promise<McpResourceContents> {
    return this.#request('resources/read', options, (sdk, request) =>
      sdk.readResource({ uri }, { ...request, cacheMode: 'bypass' }),
    );
  }

  async listPrompts(options: McpRequestOptions = {}): Promise<McpPrompt[]> {
    return this.#request('prompts/list', options, async (sdk, request) => {
      // Checked here rather than by the SDK, which logs to the console when it is missing.
      if (!sdk.getServerCapabilities()?.prompts) return [];
      return (await sdk.listPrompts(undefined, { ...request, cacheMode: 'bypass' })).prompts;
    });
  }

  listPromptsPage(cursor: string | undefined, options: McpRequestOptions = {}): Promise<McpPage<McpPrompt>> {
    return this.#page('prompts', 'prompts/list', cursor, options, (result) => result.prompts);
  }

  getPrompt(
    name: string,
    args: Record<string, string> = {},
    options: McpRequestOptions = {},
  ): Promise<McpPromptResult> {
    return this.#request('prompts/get', options, (sdk, request) =>
      sdk.getPrompt({ name, arguments: args }, request),
    );
  }

  /** Liveness check; throws the same errors as any request. */
  async ping(options: McpRequestOptions = {}): Promise<void> {
    await this.#request('ping', options, (sdk, request) => sdk.ping(request));
  }

  /** Closes the connection (and stops a stdio server). Idempotent. */
  async close(): Promise<void> {
    this.#generation++;
    this.#state = 'closed';
    await this.#teardown();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #page<M extends 'tools/list' | 'resources/list' | 'prompts/list', T>(
    capability: 'tools' | 'resources' | 'prompts',
    method: M,
    cursor: string | undefined,
    options: McpRequestOptions,
    items: (result: ResultTypeMap[M]) => T[],
  ): Promise<McpPage<T>> {
    return this.#request(method, options, async (sdk, request) => {
      // Same rule as the SDK's own list calls: a server without the capability has none.
      if (!sdk.getServerCapabilities()?.[capability]) return { items: [] };
      const result = await sdk.request({ method, params: cursor === undefined ? {} : { cursor } }, request);
      return { items: items(result), ...(result.nextCursor ? { nextCursor: result.nextCursor } : {}) };
    });
  }

  async #request<T>(
    method: string,
    options: McpRequestOptions,
    run: (sdk: Client, request: { signal?: AbortSignal; timeout: number }) => Promise<T>,
  ): Promise<T> {
    const sdk = this.#sdk;
    if (this.#state !== 'connected' || !sdk) {
      const why =
        this.#state === 'lost'
          ? 'the connection was lost (the server exited or closed it); call connect() again'
          : this.#state === 'closed'
            ? 'the client was closed'
            : 'connect() has not completed';
      throw new McpNotConnectedError(`cannot send ${method} to MCP server ${this.#label}: ${why}`, {
        method,
      });
    }
    const timeout = options.timeoutMs ?? this.#options.requestTimeoutMs ?? 30_000;
    try {
      if (options.signal?.aborted) throw options.signal.reason;
      const call = run(sdk, { ...(options.signal ? { signal: options.signal } : {}), timeout });
      return await (this.#lost ? Promise.race([call, this.#lost]) : call);
    } catch (error) {
      throw this.#classify(error, method, false, options.signal, timeout);
    }
  }

  #classify(
    error: unknown,
    method: string,
    connecting: boolean,
    signal?: AbortSignal,
    timeoutMs?: number,
  ): McpError {
    const failure = classifyError(error, { method, connecting, signal, timeoutMs, serverLabel: this.#label });
    const stderr = this.#opened?.stderrTail().trim();
    if (
      stderr &&
      (failure.code === 'ERR_MCP_SERVER_UNAVAILABLE' || failure.code === 'ERR_MCP_CONNECTION_LOST')
    )
      failure.message += `; server stderr: ${stderr.slice(-500)}`;
    return failure;
  }

  /**
   * Wires the SDK's close and error callbacks of one connection to `#lost` (raced against every
   * request) and to `state`.
   */
  #watch(sdk: Client): { gone: () => boolean } {
    let gone = false;
    let markLost!: (cause: Error) => void;
    const lost = new Promise<never>((_, reject) => {
      markLost = reject;
    });
    lost.catch(() => {});
    this.#lost = lost;
    const loseConnection = (cause: Error) => {
      if (this.#sdk !== sdk || gone) return;
      gone = true;
      if (this.#state === 'connected') this.#state = 'lost';
      markLost(cause);
    };
    sdk.onclose = () => loseConnection(new SdkError(SdkErrorCode.ConnectionClosed, 'the connection closed'));
    sdk.onerror = (error) => {
      // Streamable HTTP: when the server dies, the SDK keeps resuming the response stream and
      // leaves the pending request to its timeout. Once its resumption attempts are used up, the
      // stream carrying our answer is gone for good: fail the calls now, as stdio does.
      if (/Maximum reconnection attempts/i.test(error.message)) {
        loseConnection(new SdkError(SdkErrorCode.ConnectionClosed, error.message));
        void sdk.close().catch(() => {});
      }
    };
    return { gone: () => gone };
  }

  async #teardown(): Promise<void> {
    const sdk = this.#sdk;
    const opened = this.#opened;
    const wasConnected = this.#info !== undefined;
    this.#sdk = undefined;
    this.#lost = undefined;
    this.#info = undefined;
    this.#tools.clear();
    if (!sdk) return;
    // Best effort and bounded: a server that is already gone must not hold up close().
    if (wasConnected && opened)
      await Promise.race([
        opened.endSession(),
        new Promise((resolve) => setTimeout(resolve, 2_000).unref()),
      ]).catch(() => {});
    await sdk.close().catch(() => {});
  }
}
