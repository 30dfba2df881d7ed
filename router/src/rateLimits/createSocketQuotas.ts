import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { RateLease, RateLimiter } from '@somaagent/ports';
import type { GraphQLError } from 'graphql';
import type { WebSocket } from 'ws';
import { type RequestBudgets, subjectKey } from './createRequestBudgets';
import { operationCost } from './operationCost';
import { limitsForTenant, type RateLimitSettings } from './RateLimitSettings';
import { rateLimited, retryAfterSeconds } from './rateLimited';

/** Close code of a socket whose user went over a quota (the 4xxx twin of HTTP 429). */
export const RATE_LIMITED_CLOSE = 4429;

/**
 * How long a slot of a socket or subscription outlives a router that died without releasing
 * it; live routers renew their slots well within it.
 */
const LEASE_TTL_MS = 30_000;
/** What a client refused a slot is told to wait before trying again. */
const SLOT_RETRY_MS = 5_000;

/** One open socket's quotas: its connection slot and its subscriptions' slots. */
export interface SocketQuota {
  /**
   * Admits one `subscribe` message: the user's operations per second, the request budgets, and
   * for a subscription a slot of the user's subscriptions. Answers the errors to send instead,
   * or null; when the user is over a socket quota the socket is closed with 4429.
   */
  admit(
    id: string,
    query: string,
    operationName: string | null | undefined,
    subscription: boolean,
  ): Promise<readonly GraphQLError[] | null>;
  /** The operation `id` ended (completed, failed or cancelled): its slot is free again. */
  done(id: string): void;
  /** The socket closed: every slot it held is free again. */
  close(): void;
}

export interface SocketQuotas {
  /** Takes a connection slot of the socket's user, or closes it with 4429 and answers null. */
  open(claims: VerifiedClaims, socket: WebSocket): Promise<SocketQuota | null>;
}

const closeReason = (message: string) =>
  Buffer.byteLength(message) > 120 ? `${message.slice(0, 117)}...` : message;

/** Per-user WebSocket quotas, counted across sockets and router replicas (docs/router.md). */
export function createSocketQuotas(
  limiter: RateLimiter,
  settings: RateLimitSettings,
  budgets: RequestBudgets,
  maxTokens: number,
): SocketQuotas {
  return {
    async open(claims, socket) {
      const limits = limitsForTenant(settings, claims.tenantId);
      const user = subjectKey(claims);
      const connection = await limiter.acquire(
        `ws:connections:${user}`,
        limits.maxConnectionsPerUser,
        LEASE_TTL_MS,
      );
      if (!connection) {
        socket.close(
          RATE_LIMITED_CLOSE,
          closeReason(
            `rate limited: at most ${limits.maxConnectionsPerUser} open sockets per user; retry after ${retryAfterSeconds(SLOT_RETRY_MS)} s`,
          ),
        );
        return null;
      }
      const subscriptions = new Map<string, Promise<RateLease | null>>();
      let closed = false;
      const release = (lease: Promise<RateLease | null> | undefined) => {
        void lease?.then((l) => l?.release()).catch(() => undefined);
      };
      const refuse = (message: string) => {
        socket.close(RATE_LIMITED_CLOSE, closeReason(`rate limited: ${message}`));
        return [rateLimited(message, SLOT_RETRY_MS, { limit: 0, scope: 'socket' }, false)] as const;
      };
      const quota: SocketQuota = {
        async admit(id, query, operationName, subscription) {
          const rate = await limiter.consume(
            `ws:ops:${user}`,
            1,
            limits.socketOperationsPerSecondPerUser,
            1_000,
          );
          if (!rate.allowed) {
            return refuse(
              `at most ${limits.socketOperationsPerSecondPerUser} operations per second per user over WebSockets`,
            );
          }
          try {
            await budgets.spendForClaims(claims, operationCost(query, operationName, maxTokens), false);
          } catch (error) {
            return [error as GraphQLError];
          }
          if (!subscription) return null;
          const slot = limiter.acquire(
            `ws:subscriptions:${user}`,
            limits.maxSubscriptionsPerUser,
            LEASE_TTL_MS,
          );
          subscriptions.set(id, slot);
          const lease = await slot;
          if (closed) release(slot);
          if (lease) return null;
          subscriptions.delete(id);
          return refuse(`at most ${limits.maxSubscriptionsPerUser} active subscriptions per user`);
        },
        done(id) {
          release(subscriptions.get(id));
          subscriptions.delete(id);
        },
        close() {
          closed = true;
          for (const slot of subscriptions.values()) release(slot);
          subscriptions.clear();
          void connection.release().catch(() => undefined);
        },
      };
      // The client may have gone while the slot was being taken: onClose has already run.
      if (socket.readyState !== socket.OPEN) {
        quota.close();
        return null;
      }
      return quota;
    },
  };
}
