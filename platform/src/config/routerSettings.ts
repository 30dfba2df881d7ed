import { resolve } from 'node:path';
import {
  loadPersistedDocuments,
  oidcClaims,
  type PersistedDocuments,
  type RouterLimits,
  type TrustedIssuer,
} from '@somaagent/router';
import type { SessionsDeps } from '@somaagent/sessions';
import type { z } from 'zod';
import type { OidcIssuers, RateLimits } from './platformConfig';

// The router's settings out of a process's config, shared by `npm start` (scripts/start.ts) and
// the standalone router and subgraph processes (platform/src/router.ts, subgraph.ts).

/** SOMA_OIDC_ISSUERS as the router's trusted issuers (claims mapped by `oidcClaims`). */
export function externalIssuersOf(issuers: z.output<typeof OidcIssuers>): TrustedIssuer[] {
  return issuers.map(({ issuer, audience, jwksUrl, typ, maxTokenLifetimeSeconds, ...mapping }) => ({
    issuer,
    audience,
    ...(jwksUrl ? { jwksUrl } : {}),
    ...(typ ? { typ } : {}),
    ...(maxTokenLifetimeSeconds ? { maxTokenLifetimeSeconds } : {}),
    toClaims: oidcClaims(mapping),
  }));
}

/**
 * SOMA_RATE_LIMITS split by who enforces it: the router's request and socket budgets, and the
 * sessions subgraph's concurrent-generation quota.
 */
export function splitRateLimits(limits: z.output<typeof RateLimits> | undefined): {
  router: Partial<RouterLimits>;
  generations: NonNullable<SessionsDeps['limits']>;
} {
  const {
    maxConcurrentGenerationsPerUser,
    maxConcurrentGenerationsPerTenant,
    generationTenantOverrides,
    ...router
  } = limits ?? {};
  const generations = Object.fromEntries(
    Object.entries({
      maxConcurrentGenerationsPerUser,
      maxConcurrentGenerationsPerTenant,
      generationTenantOverrides,
    }).filter(([, value]) => value !== undefined),
  );
  return { router, generations };
}

/** A comma-separated variable (SOMA_ALLOWED_ORIGINS, SOMA_TRUSTED_PROXIES) as a list. */
export const commaSeparated = (value: string): string[] =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

/** SOMA_PERSISTED_DOCUMENTS loaded, or exit 2 naming the variable. */
export function persistedDocumentsOrExit(path: string | undefined): PersistedDocuments | undefined {
  if (!path) return undefined;
  try {
    return loadPersistedDocuments(resolve(path));
  } catch (error) {
    console.error(`Invalid configuration: SOMA_PERSISTED_DOCUMENTS: ${(error as Error).message}`);
    process.exit(2);
  }
}
