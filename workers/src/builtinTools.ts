import type { ActivityRunInfo } from '@somaagent/ports';

/** Built-in tools until the tools domain exists (docs/capsules.md says which and why). */
export type Tool = (args: Record<string, unknown>, info: ActivityRunInfo) => Promise<unknown>;

const abortable = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

export const BUILTIN_TOOLS: Record<string, Tool> = {
  /** Returns its arguments. */
  'soma.echo': async (args) => args,
  /** Waits `ms` (at most 10 minutes), abortable: long-running work, for timeouts and crash tests. */
  'soma.sleep': async (args, info) => {
    const ms = Math.min(Number(args.ms ?? 0), 600_000);
    await abortable(ms, info.signal);
    return { sleptMs: ms };
  },
  /** Fails its first `failAttempts` attempts, then succeeds: retries with backoff, observable. */
  'soma.flaky': async (args, info) => {
    const failAttempts = Number(args.failAttempts ?? 1);
    if (info.attempt <= failAttempts)
      throw new Error(`soma.flaky failing attempt ${info.attempt} of ${failAttempts}`);
    return { succeededOnAttempt: info.attempt };
  },
};
