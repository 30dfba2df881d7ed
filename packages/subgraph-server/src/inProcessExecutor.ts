import type { VerifiedClaims } from '@somaagent/internal-auth';
import {
  type DocumentNode,
  type ExecutionResult,
  execute,
  type GraphQLError,
  type GraphQLFormattedError,
  type GraphQLSchema,
  subscribe,
} from 'graphql';

/** What the router hands a subgraph executor (the subset of graphql-tools' ExecutionRequest we read). */
export interface SubgraphExecutionRequest {
  document: DocumentNode;
  variables?: Record<string, unknown>;
  operationName?: string;
  operationType?: string;
  /** The router's context: `somaClaims` holds what it verified for this operation. */
  context?: unknown;
}

/**
 * Name of the request extension (and router context key) that carries the client's IP, as the
 * router's socket saw it, to subgraphs that throttle by it (identity's sign-in).
 */
export const CLIENT_IP_EXTENSION = 'somaClientIp';

/** What a subgraph learns about the client request besides the verified claims. */
export interface SubgraphRequestInfo {
  clientIp?: string | undefined;
}

/** The client IP a router context or request extensions carry, if it is a plausible one. */
export const clientIpFrom = (carrier: unknown): string | undefined => {
  const value = (carrier as Record<string, unknown> | undefined)?.[CLIENT_IP_EXTENSION];
  return typeof value === 'string' && value.length > 0 && value.length <= 64 ? value : undefined;
};

export type SubgraphExecutor = (
  request: SubgraphExecutionRequest,
) => Promise<ExecutionResult | AsyncIterableIterator<ExecutionResult>>;

export interface InProcessSubgraphOptions<TContext> {
  name: string;
  schema: GraphQLSchema;
  createContext: (
    claims: VerifiedClaims | null,
    request?: SubgraphRequestInfo,
  ) => TContext | Promise<TContext>;
}

/**
 * A subgraph executed in the router's own process: the embedded platform (`npm start`) runs the
 * router and every subgraph on one event loop, where the HTTP and graphql-ws hops between them
 * cost CPU on every operation and every streamed event, and guard against nothing (no network
 * in between). The claims are the router's own verified `somaClaims`, so no envelope is signed
 * or checked. Errors are shaped as the HTTP subgraph shapes them (serveSubgraph): a stable code
 * passes through; anything unexpected is logged here and answered as INTERNAL_SERVER_ERROR.
 */
export function createInProcessExecutor<TContext>(
  options: InProcessSubgraphOptions<TContext>,
): SubgraphExecutor {
  const { name, schema, createContext } = options;
  const shape = (error: GraphQLError): GraphQLFormattedError => {
    const code = error.extensions?.code;
    if (typeof code === 'string' && code !== 'INTERNAL_SERVER_ERROR') return error.toJSON();
    console.error(`[${name}] unexpected error`, error.originalError ?? error);
    return {
      message: 'Internal error; it has been logged',
      ...(error.path ? { path: error.path } : {}),
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
  const shaped = (result: ExecutionResult): ExecutionResult =>
    result.errors ? ({ ...result, errors: result.errors.map(shape) } as unknown as ExecutionResult) : result;

  return async (request) => {
    const claims =
      (request.context as { somaClaims?: VerifiedClaims | null } | undefined)?.somaClaims ?? null;
    const args = {
      schema,
      document: request.document,
      variableValues: request.variables ?? {},
      ...(request.operationName ? { operationName: request.operationName } : {}),
      contextValue: await createContext(claims, { clientIp: clientIpFrom(request.context) }),
    };
    if (request.operationType !== 'subscription') return shaped(await execute(args));
    const result = await subscribe(args);
    if (!(Symbol.asyncIterator in result)) return shaped(result);
    // A hand-written iterator, not an async generator: return() must reach the source at once
    // (an unsubscribing client stops its session's generation), even while a next() is pending.
    // It does not wait for the source to finish returning (an async generator suspended in an
    // await returns only after that await): over graphql-ws the router does not wait either, and
    // the router's per-connection subscription count must drop when the client completes.
    // A next() pending at that moment ends too: the router's loop over this iterator must end.
    const source = result as AsyncGenerator<ExecutionResult>;
    let ended = false;
    let end!: () => void;
    const endedNow = new Promise<IteratorResult<ExecutionResult>>((resolve) => {
      end = () => resolve({ done: true, value: undefined });
    });
    const events: AsyncIterableIterator<ExecutionResult> = {
      next: async () => {
        if (ended) return { done: true, value: undefined };
        const step = await Promise.race([source.next(), endedNow]);
        return step.done ? step : { done: false, value: shaped(step.value) };
      },
      return: async (value?: unknown) => {
        if (!ended) {
          ended = true;
          end();
          source.return(value as ExecutionResult).catch((error: unknown) => {
            console.error(`[${name}] subscription did not end cleanly`, error);
          });
        }
        return { done: true, value: undefined };
      },
      throw: (error?: unknown) => source.throw(error),
      [Symbol.asyncIterator]: () => events,
    };
    return events;
  };
}
