import type { IncomingMessage } from 'node:http';
import type { GatewayPlugin } from '@graphql-hive/gateway-runtime';
import { SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { TokenVerifier } from '../auth/createTokenVerifier';
import type { ClientAddresses } from '../server/clientAddress';

/** Context key holding the claims verified for this operation (`null` = anonymous). */
export interface SomaRouterContext {
  somaClaims: VerifiedClaims | null;
  /** The client's address as this router's socket saw it (sign-in throttling per IP). */
  somaClientIp?: string;
}

export function bearerToken(authorization: string | null | undefined): string | null {
  if (!authorization) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  if (!match) {
    throw new SomaError('UNAUTHENTICATED', 'Authorization header must be "Bearer <token>"', {
      http: { status: 401 },
    });
  }
  return match[1]!;
}

/**
 * Verifies the HTTP bearer token once per request. A request without a token proceeds as
 * anonymous (sign-in and token exchange need that; every other field demands claims in its
 * subgraph). A request WITH a token that fails verification is refused whole with 401.
 * WebSocket operations arrive with `somaClaims` already set at connect time.
 */
export function useTokenVerification(
  verifier: TokenVerifier,
  clients: ClientAddresses,
  /** Told of every token refused (metrics). */
  onRefused: () => void = () => {},
): GatewayPlugin<SomaRouterContext> {
  return {
    async onContextBuilding({ context, extendContext }) {
      if (context.somaClaims !== undefined) return;
      const token = bearerToken(context.request?.headers.get('authorization'));
      // The Node adapter puts the IncomingMessage in the server context as `req`.
      const req = (context as { req?: IncomingMessage }).req;
      const ip = req ? clients.of(req) : undefined;
      const claims = token
        ? await verifier.verify(token).catch((error: unknown) => {
            onRefused();
            throw error;
          })
        : null;
      extendContext({
        somaClaims: claims,
        ...(ip ? { somaClientIp: ip } : {}),
      });
    },
  };
}
