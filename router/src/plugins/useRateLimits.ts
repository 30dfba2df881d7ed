import type { IncomingMessage } from 'node:http';
import type { GatewayPlugin } from '@graphql-hive/gateway-runtime';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { TokenVerifier } from '../auth/createTokenVerifier';
import type { RequestBudgets } from '../rateLimits/createRequestBudgets';
import { operationCost } from '../rateLimits/operationCost';
import type { ClientAddresses } from '../server/clientAddress';
import { bearerToken } from './useTokenVerification';

export interface UseRateLimitsOptions {
  budgets: RequestBudgets;
  /** The router's verifier: it reuses verified tokens, so asking it again here costs no signature check. */
  verifier: TokenVerifier;
  /** Documents are parsed for their cost within the router's token limit. */
  maxTokens: number;
  /** Which client a request is from (the TCP peer, or what a trusted proxy says). */
  clients: ClientAddresses;
}

/**
 * Per-minute request budgets over HTTP, decided once per request for its whole batch: the IP's
 * budget first (before any token work, so floods of bad tokens are throttled too), then the
 * token's subject and tenant. A request over any budget is answered 429 RATE_LIMITED with
 * `retryAfter` and a `Retry-After` header; nothing of it runs.
 */
export function useRateLimits({
  budgets,
  verifier,
  maxTokens,
  clients,
}: UseRateLimitsOptions): GatewayPlugin {
  return {
    onRequestParse({ request, serverContext }) {
      return {
        async onRequestParseDone({ requestParserResult }) {
          const operations = Array.isArray(requestParserResult) ? requestParserResult : [requestParserResult];
          let cost = 0;
          for (const params of operations)
            cost += operationCost(params.query, params.operationName, maxTokens);
          const req = (serverContext as { req?: IncomingMessage }).req;
          await budgets.spendForIp(clients.of(req), cost, true);
          const claims = await claimsOf(verifier, request.headers.get('authorization'));
          if (claims) await budgets.spendForClaims(claims, cost, true);
        },
      };
    },
  };
}

/**
 * The request's verified claims, or null. A missing, malformed or failing token spends no
 * subject budget here: token verification refuses it right after, with its own 401.
 */
async function claimsOf(
  verifier: TokenVerifier,
  authorization: string | null,
): Promise<VerifiedClaims | null> {
  try {
    const token = bearerToken(authorization);
    return token ? await verifier.verify(token) : null;
  } catch {
    return null;
  }
}
