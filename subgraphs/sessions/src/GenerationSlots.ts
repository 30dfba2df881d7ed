import { SomaError } from '@somaagent/errors';
import type { RateLease, RateLimiter } from '@somaagent/ports';
import type { Caller } from './capabilities';

/** How many answers may be generated at once (docs/sessions.md, docs/security.md §3). */
export interface GenerationQuota {
  /** Answers one user or API key may have generating at once, over all sessions. @default 4 */
  maxConcurrentGenerationsPerUser: number;
  /** Answers a whole tenant may have generating at once. @default 32 */
  maxConcurrentGenerationsPerTenant: number;
  /**
   * Per-tenant replacements of the two limits above, by tenant id. @default {}
   * @example { '6f1c…': { maxConcurrentGenerationsPerTenant: 200 } }
   */
  generationTenantOverrides: Record<
    string,
    Partial<Pick<GenerationQuota, 'maxConcurrentGenerationsPerUser' | 'maxConcurrentGenerationsPerTenant'>>
  >;
}

export const DEFAULT_GENERATION_QUOTA: GenerationQuota = {
  maxConcurrentGenerationsPerUser: 4,
  maxConcurrentGenerationsPerTenant: 32,
  generationTenantOverrides: {},
};

/**
 * A process that dies mid-answer stops renewing its slots; they free themselves this long after.
 * Live processes renew them (RateLimiter keep-alive) for as long as the answer runs.
 */
const SLOT_TTL_MS = 60_000;
/** What a refused caller is told to wait: answers take seconds, so a second is a fair retry. */
const RETRY_AFTER_SECONDS = 2;

/**
 * The concurrent-generation quota, through the RateLimiter port: in memory for one process,
 * in Redis when several sessions replicas must share it.
 */
export class GenerationSlots {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly quota: GenerationQuota,
  ) {}

  /**
   * Takes one slot of the caller's and one of the tenant's, or throws RATE_LIMITED (with
   * `retryAfter` in seconds). The returned function gives both back (idempotent).
   */
  async take(caller: Caller): Promise<() => void> {
    const override = this.quota.generationTenantOverrides[caller.tenantId];
    const perUser = override?.maxConcurrentGenerationsPerUser ?? this.quota.maxConcurrentGenerationsPerUser;
    const perTenant =
      override?.maxConcurrentGenerationsPerTenant ?? this.quota.maxConcurrentGenerationsPerTenant;
    const user = await this.limiter.acquire(
      `generations:user:${caller.tenantId}:${caller.subject}`,
      perUser,
      SLOT_TTL_MS,
    );
    if (!user) throw refused(`at most ${perUser} answers generating at once per user`, perUser, 'user');
    let tenant: RateLease | null;
    try {
      tenant = await this.limiter.acquire(`generations:tenant:${caller.tenantId}`, perTenant, SLOT_TTL_MS);
    } catch (error) {
      await user.release();
      throw error;
    }
    if (!tenant) {
      await user.release();
      throw refused(`at most ${perTenant} answers generating at once per tenant`, perTenant, 'tenant');
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      void Promise.all([user.release(), tenant.release()]).catch((error) =>
        console.error('[sessions] releasing a generation slot failed (it lapses by itself)', error),
      );
    };
  }
}

const refused = (what: string, limit: number, scope: string) =>
  new SomaError(
    'RATE_LIMITED',
    `${what}; wait for one to complete (or cancel it) and retry after ${RETRY_AFTER_SECONDS} s`,
    { limit, scope, retryAfter: RETRY_AFTER_SECONDS },
  );
