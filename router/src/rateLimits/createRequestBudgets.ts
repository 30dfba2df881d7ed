import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { RateLimiter } from '@somaagent/ports';
import { limitsForTenant, type RateLimitSettings } from './RateLimitSettings';
import { rateLimited } from './rateLimited';

const MINUTE = 60_000;

/** Budget key of one user or API key (subjects are unique within their tenant). */
export const subjectKey = (claims: VerifiedClaims) => `${claims.tenantId ?? 'platform'}:${claims.subject}`;

export interface RequestBudgets {
  /** Spends `cost` units of the IP's budget, or throws RATE_LIMITED. */
  spendForIp(ip: string, cost: number, http: boolean): Promise<void>;
  /** Spends `cost` units of the subject's and then the tenant's budget, or throws RATE_LIMITED. */
  spendForClaims(claims: VerifiedClaims, cost: number, http: boolean): Promise<void>;
}

/** The per-minute request budgets over HTTP and graphql-ws alike (docs/router.md "Rate limits"). */
export function createRequestBudgets(
  limiter: RateLimiter,
  settings: RateLimitSettings,
  /** Told of every refusal, by budget (metrics). */
  onRefused: (scope: 'ip' | 'subject' | 'tenant') => void = () => {},
): RequestBudgets {
  const spend = async (
    key: string,
    cost: number,
    limit: number,
    what: string,
    scope: 'ip' | 'subject' | 'tenant',
    http: boolean,
  ) => {
    const decision = await limiter.consume(key, cost, limit, MINUTE);
    if (!decision.allowed) {
      onRefused(scope);
      throw rateLimited(
        `${what} may spend ${limit} units of work per minute (each operation costs its root fields, aliases included) and this request costs ${cost}`,
        decision.retryAfterMs,
        { limit, scope },
        http,
      );
    }
  };
  return {
    spendForIp: (ip, cost, http) =>
      spend(`req:ip:${ip}`, cost, settings.requestsPerMinutePerIp, 'one IP address', 'ip', http),
    async spendForClaims(claims, cost, http) {
      const limits = limitsForTenant(settings, claims.tenantId);
      await spend(
        `req:subject:${subjectKey(claims)}`,
        cost,
        limits.requestsPerMinutePerSubject,
        'one user or API key',
        'subject',
        http,
      );
      if (claims.tenantId) {
        await spend(
          `req:tenant:${claims.tenantId}`,
          cost,
          limits.requestsPerMinutePerTenant,
          'one tenant',
          'tenant',
          http,
        );
      }
    },
  };
}
