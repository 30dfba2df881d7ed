import { clip } from '@somaagent/errors';
import type { PlatformMetrics } from '@somaagent/observability';

/** One thing the router needs to serve: resolves when it is usable, rejects saying why not. */
export type ReadinessCheck = (signal: AbortSignal) => Promise<void>;

export interface ReadinessReport {
  ready: boolean;
  /** Each check: passed, how long it took, and why it failed. */
  checks: Record<string, { ok: boolean; ms: number; error?: string }>;
}

export interface ReadinessChecks {
  run(): Promise<ReadinessReport>;
}

/**
 * `/readyz`: every check at once, each bounded by `timeoutMs`. One run serves every caller that
 * asks while it is in flight, and its report is reused for `reuseMs`, so a load balancer probing
 * often (or anyone hammering the endpoint) costs the engines one round of checks per interval.
 */
export function createReadinessChecks(
  checks: Record<string, ReadinessCheck>,
  options: { timeoutMs?: number; reuseMs?: number; metrics?: PlatformMetrics | undefined } = {},
): ReadinessChecks {
  const timeoutMs = options.timeoutMs ?? 2_000;
  const reuseMs = options.reuseMs ?? 1_000;
  let running: Promise<ReadinessReport> | undefined;
  let last: { at: number; report: ReadinessReport } | undefined;

  async function runAll(): Promise<ReadinessReport> {
    const entries = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        const started = performance.now();
        const signal = AbortSignal.timeout(timeoutMs);
        try {
          await Promise.race([
            check(signal),
            new Promise<never>((_, reject) =>
              signal.addEventListener('abort', () => reject(new Error(`no answer within ${timeoutMs} ms`)), {
                once: true,
              }),
            ),
          ]);
          return [name, { ok: true, ms: Math.round(performance.now() - started) }] as const;
        } catch (error) {
          const message = clip((error as Error)?.message ?? String(error), 160);
          return [name, { ok: false, ms: Math.round(performance.now() - started), error: message }] as const;
        }
      }),
    );
    const report: ReadinessReport = {
      ready: entries.every(([, r]) => r.ok),
      checks: Object.fromEntries(entries),
    };
    for (const [name, result] of entries) options.metrics?.readiness.set({ check: name }, result.ok ? 1 : 0);
    return report;
  }

  return {
    run() {
      if (last && Date.now() - last.at < reuseMs) return Promise.resolve(last.report);
      running ??= runAll()
        .then((report) => {
          last = { at: Date.now(), report };
          return report;
        })
        .finally(() => {
          running = undefined;
        });
      return running;
    },
  };
}

/** A subgraph process is ready when its `/healthz` answers 200. */
export const subgraphHealthCheck =
  (graphqlUrl: string): ReadinessCheck =>
  async (signal) => {
    const response = await fetch(graphqlUrl.replace(/\/graphql$/, '/healthz'), { signal });
    await response.body?.cancel();
    if (!response.ok) throw new Error(`its /healthz answered ${response.status}`);
  };
