/**
 * The router's quotas and rate limits (docs/router.md "Rate limits"). Request budgets are in
 * units of work: each operation of a batch costs its number of root fields, aliases included
 * (`{ a: me { id } b: me { id } }` costs 2), and at least 1.
 */
export interface TenantRateLimits {
  /** Units per minute for one user or API key (the token's subject). @default 3000 */
  requestsPerMinutePerSubject: number;
  /** Units per minute for all the tenant's users and keys together. @default 12000 */
  requestsPerMinutePerTenant: number;
  /** Open graphql-ws connections of one user or key, across all router replicas. @default 20 */
  maxConnectionsPerUser: number;
  /** Active subscriptions of one user or key, across all their sockets and replicas. @default 100 */
  maxSubscriptionsPerUser: number;
  /** graphql-ws `subscribe` messages per second of one user or key, all sockets together. @default 50 */
  socketOperationsPerSecondPerUser: number;
}

export interface RateLimitSettings extends TenantRateLimits {
  /**
   * Units per minute from one client IP address (the TCP peer), with or without a token. It is
   * spent before the token is verified, so a flood of bad tokens is throttled too.
   * @default 12000
   */
  requestsPerMinutePerIp: number;
  /**
   * Per-tenant replacements of the limits above, by tenant id; limits a tenant's entry does not
   * name keep their default. @default {}
   * @example { '6f1c…': { requestsPerMinutePerTenant: 60000, maxConnectionsPerUser: 50 } }
   */
  tenantOverrides: Record<string, Partial<TenantRateLimits>>;
}

export const DEFAULT_RATE_LIMITS: RateLimitSettings = {
  requestsPerMinutePerIp: 12_000,
  requestsPerMinutePerSubject: 3_000,
  requestsPerMinutePerTenant: 12_000,
  maxConnectionsPerUser: 20,
  maxSubscriptionsPerUser: 100,
  socketOperationsPerSecondPerUser: 50,
  tenantOverrides: {},
};

/** The limits that apply to one tenant (`null`: a platform administrator, who has no tenant). */
export function limitsForTenant(settings: RateLimitSettings, tenantId: string | null): TenantRateLimits {
  const override = tenantId ? settings.tenantOverrides[tenantId] : undefined;
  return {
    requestsPerMinutePerSubject:
      override?.requestsPerMinutePerSubject ?? settings.requestsPerMinutePerSubject,
    requestsPerMinutePerTenant: override?.requestsPerMinutePerTenant ?? settings.requestsPerMinutePerTenant,
    maxConnectionsPerUser: override?.maxConnectionsPerUser ?? settings.maxConnectionsPerUser,
    maxSubscriptionsPerUser: override?.maxSubscriptionsPerUser ?? settings.maxSubscriptionsPerUser,
    socketOperationsPerSecondPerUser:
      override?.socketOperationsPerSecondPerUser ?? settings.socketOperationsPerSecondPerUser,
  };
}
