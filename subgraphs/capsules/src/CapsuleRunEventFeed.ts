import { runStream } from '@somaagent/capsule-contract';
import { SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { StreamLog } from '@somaagent/ports';
import type { CapsuleRuns } from './CapsuleRuns';
import type { CapsuleStore } from './CapsuleStore';
import { type Caller, requireCaller } from './capabilities';
import type { CapsuleRunEventModel } from './models';

const TERMINAL_EVENTS = new Set(['RUN_COMPLETED', 'RUN_FAILED', 'RUN_CANCELLED']);
/** Events read from the database per query. */
const PAGE = 200;

/**
 * A run's events for the `capsuleRun` subscription: from the database after a sequence, then
 * live. The database is the record; the StreamLog (which the run workers append to) only wakes
 * the loop, so resuming works after any restart and for runs executed by another process.
 */
export class CapsuleRunEventFeed {
  constructor(
    private readonly store: CapsuleStore,
    private readonly runs: CapsuleRuns,
    private readonly streams: StreamLog,
    /** How often to look at the database when no live event woke the loop. */
    private readonly pollMs: number,
  ) {}

  /** The run's events after `afterSequence` (from the database), then live; ends after the run's last event. */
  async events(
    claims: VerifiedClaims | null,
    runId: string,
    afterSequence: number,
  ): Promise<AsyncGenerator<CapsuleRunEventModel>> {
    const caller = requireCaller(claims, 'capsules:read');
    await this.store.inTenant(caller, (tx) => this.runs.loadRun(tx, runId));
    if (!Number.isInteger(afterSequence) || afterSequence < 0) {
      throw new SomaError('BAD_USER_INPUT', 'afterSequence must be a non-negative integer', {
        field: 'afterSequence',
      });
    }
    return this.follow(caller, runId, afterSequence);
  }

  private async *follow(
    caller: Caller,
    runId: string,
    afterSequence: number,
  ): AsyncGenerator<CapsuleRunEventModel> {
    const abort = new AbortController();
    const stream = runStream(runId);
    const live = this.streams.subscribe(stream, await this.streams.lastSequence(stream), abort.signal);
    let wake = live.next();
    let last = afterSequence;
    try {
      for (;;) {
        const rows = await this.store.inTenant(caller, (tx) => this.store.eventsAfter(tx, runId, last, PAGE));
        for (const r of rows) {
          last = Number(r.sequence);
          yield {
            sequence: last,
            runId,
            type: r.type,
            stepKey: r.step_key,
            payload: r.payload,
            occurredAt: new Date(r.at).toISOString(),
          };
          if (TERMINAL_EVENTS.has(r.type)) return;
        }
        if (rows.length === PAGE) continue;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          wake.then(() => {
            wake = live.next();
          }),
          new Promise((r) => {
            timer = setTimeout(r, this.pollMs);
          }),
        ]);
        clearTimeout(timer);
      }
    } finally {
      abort.abort();
      await live.return?.(undefined);
    }
  }
}
