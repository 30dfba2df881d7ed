import type { OutboxRelay } from '@somaagent/events';
import type { SqlDatabase, StreamLog } from '@somaagent/ports';
import type { PriceTable } from './prices';
import { answerCost, recordAnswer } from './recordAnswer';

export interface GenerationRecoveryDeps {
  db: SqlDatabase;
  streams: StreamLog;
  outbox: OutboxRelay;
  prices: PriceTable;
  /** This process's generator id (SessionService.instanceId): its own answers are never repaired. */
  instanceId: string;
  /** Heartbeat period on a database server; a generator unseen for 3 of them is dead. */
  heartbeatMs: number;
  /** The session event stream's key (SessionEventFeed's `sessionStream`). */
  streamOf: (sessionId: string) => string;
}

/** What the repair tells a client that resubscribes: the answer ended with the server. */
const INTERRUPTED_MESSAGE =
  'the answer was interrupted: the server stopped while it was generating; what it had stored is kept and metered — send the message again';

/**
 * Repairs answers left STREAMING by a process that died mid-generation (SIGKILL, crash, power
 * loss): each is marked FAILED (`finishReason` `interrupted`) with the text and token counts its
 * last checkpoint stored (GenerationCheckpoints), metered, added to its session's totals and
 * published on `slm.requests` / `conversation.events` through recordAnswer — the path every
 * answer ends on — and its stream gets `UsageReported` and `GenerationFailed` (UNAVAILABLE,
 * retriable), so a client that resubscribes learns how it ended. The session itself was never
 * locked by the row (a session is busy only while a live process generates for it).
 *
 * Which answers are orphans: on the in-process database this process is the only client, so at
 * start-up every STREAMING answer is one. On a database server other replicas may be generating:
 * only answers whose generator has not written its heartbeat for 3 periods are repaired, at
 * start-up and then on every heartbeat. Returns how many answers were repaired.
 */
export async function recoverInterruptedGenerations(
  deps: GenerationRecoveryDeps,
  staleAfterMs: number,
): Promise<number> {
  const { db, streams, outbox, prices } = deps;
  const orphans = await db.withScope({ tenantId: null }, async (tx) => {
    await tx.query('SELECT sessions.generator_seen($1)', [deps.instanceId]);
    return (
      await tx.query<{ id: string; tenant_id: string; session_id: string }>(
        `SELECT * FROM sessions.interrupted_generations($1, $2::interval)`,
        [deps.instanceId, `${Math.max(0, Math.round(staleAfterMs))} milliseconds`],
      )
    ).rows;
  });
  let repaired = 0;
  for (const orphan of orphans) {
    const stream = deps.streamOf(orphan.session_id);
    const ended = await db.withScope({ tenantId: orphan.tenant_id }, async (tx) => {
      const { rows } = await tx.query<{
        content: string;
        prompt_tokens: number;
        completion_tokens: number;
        user_id: string;
        provider: string;
        model: string;
        last_sequence: string;
      }>(
        `SELECT m.content, m.prompt_tokens, m.completion_tokens, s.user_id, p.provider, p.model, s.last_sequence
           FROM sessions.messages m JOIN sessions.sessions s ON s.id = m.session_id
           JOIN sessions.personas p ON p.id = s.persona_id
          WHERE m.id = $1 AND m.status = 'STREAMING' FOR UPDATE OF m, s`,
        [orphan.id],
      );
      const row = rows[0];
      if (!row) return undefined; // ended meanwhile
      // Above every event the session ever had, in the log or stored.
      const floor = Math.max(Number(row.last_sequence), await streams.lastSequence(stream));
      const cost = answerCost(prices, row.model, row.prompt_tokens, row.completion_tokens);
      const recorded = await recordAnswer(
        tx,
        outbox,
        {
          tenantId: orphan.tenant_id,
          sessionId: orphan.session_id,
          messageId: orphan.id,
          userId: row.user_id,
          provider: row.provider,
          model: row.model,
          content: row.content,
          status: 'FAILED',
          finishReason: 'interrupted',
          promptTokens: row.prompt_tokens,
          completionTokens: row.completion_tokens,
          usageSource: 'checkpoint',
          latencyMs: null,
          ttftMs: null,
          finalSequence: floor + 2,
        },
        cost,
      );
      return recorded ? { floor, cost, row } : undefined;
    });
    if (!ended) continue;
    repaired++;
    const occurredAt = new Date().toISOString();
    await streams.append(
      stream,
      {
        type: 'USAGE',
        messageId: orphan.id,
        promptTokens: ended.row.prompt_tokens,
        completionTokens: ended.row.completion_tokens,
        costUsd: ended.cost,
        occurredAt,
      },
      { floor: ended.floor },
    );
    await streams.append(
      stream,
      {
        type: 'FAILED',
        messageId: orphan.id,
        code: 'UNAVAILABLE',
        message: INTERRUPTED_MESSAGE,
        retriable: true,
        occurredAt,
      },
      { floor: ended.floor },
    );
  }
  if (repaired > 0) {
    outbox.kick();
    console.warn(`[sessions] repaired ${repaired} answer(s) left STREAMING by a stopped process`);
  }
  return repaired;
}

export interface GenerationRecovery {
  /** Stops the heartbeat; resolves once a repair in flight has finished. */
  stop(): Promise<void>;
}

/**
 * Repairs at start-up (awaited, before the subgraph serves) and, on a database server, keeps
 * this process's heartbeat and repairs other dead generators' answers every `heartbeatMs`.
 */
export async function startGenerationRecovery(deps: GenerationRecoveryDeps): Promise<GenerationRecovery> {
  const staleAfterMs = 3 * deps.heartbeatMs;
  await recoverInterruptedGenerations(deps, deps.db.inProcess ? 0 : staleAfterMs);
  if (deps.db.inProcess) return { stop: async () => undefined };
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= recoverInterruptedGenerations(deps, staleAfterMs)
      .then(
        () => undefined,
        (error) => console.error('[sessions] repairing interrupted answers failed', error),
      )
      .finally(() => {
        running = undefined;
      });
  }, deps.heartbeatMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
