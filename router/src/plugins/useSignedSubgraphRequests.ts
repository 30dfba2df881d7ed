import type { GatewayPlugin } from '@graphql-hive/gateway-runtime';
import { defaultPrintFn } from '@graphql-tools/executor-common';
import { ROUTER_ENVELOPE_EXTENSION, signRouterEnvelope } from '@somaagent/internal-auth';
import { CLIENT_IP_EXTENSION } from '@somaagent/subgraph-server';
import type { SomaRouterContext } from './useTokenVerification';

/**
 * Adds the router's HMAC envelope (verified claims + time, bound to the exact query and
 * variables) to every subgraph request, over HTTP and graphql-ws alike. Subgraphs refuse
 * requests without it, which is what keeps them reachable through the router only. Subgraphs
 * that run in the router's process (`inProcess`) get the verified claims directly: no network
 * between them to guard, so nothing is signed (and the operation is not printed for it).
 */
export function useSignedSubgraphRequests(
  secret: string,
  inProcess: ReadonlySet<string> = new Set(),
): GatewayPlugin<SomaRouterContext> {
  return {
    onSubgraphExecute({ subgraphName, executionRequest, setExecutionRequest }) {
      if (inProcess.has(subgraphName)) return;
      const claims = executionRequest.context?.somaClaims ?? null;
      const envelope = signRouterEnvelope(
        secret,
        { query: defaultPrintFn(executionRequest.document), variables: executionRequest.variables },
        claims,
      );
      setExecutionRequest({
        ...executionRequest,
        extensions: {
          ...executionRequest.extensions,
          [ROUTER_ENVELOPE_EXTENSION]: envelope,
          // Outside the MAC: only the router can reach a subgraph with a fresh, single-use envelope.
          ...(executionRequest.context?.somaClientIp
            ? { [CLIENT_IP_EXTENSION]: executionRequest.context.somaClientIp }
            : {}),
        },
      });
    },
  };
}
