import type { SqlDatabase, TokenUsage } from '@somaagent/ports';

/** What an answer has produced so far, or undefined when nothing new arrived since the last write. */
export type CheckpointRead = () => ({ content: string } & TokenUsage) | undefined;

export interface GenerationCheckpoints {
  /** Stops writing; resolves once a write in flight has finished (the final record follows it). */
  stop(): Promise<void>;
}

/**
 * Writes a streaming answer's text so far and its running token counts to its STREAMING row
 * every `everyMs`, so that after a crash the repair (recoverInterruptedGenerations) finds what
 * it had produced and used. The tick reads the generation's own variables through `read`: no
 * work per token, and the first write comes `everyMs` after the start, never in the first-token
 * window. A write never ends an answer (`status = 'STREAMING'` guards it), so one that lands
 * after the final record changes nothing.
 */
export function startCheckpoints(
  db: SqlDatabase,
  tenantId: string,
  messageId: string,
  everyMs: number,
  read: CheckpointRead,
): GenerationCheckpoints {
  let inFlight: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (inFlight) return;
    const state = read();
    if (!state) return;
    inFlight = db
      .withScope({ tenantId }, (tx) =>
        tx.query(
          `UPDATE sessions.messages SET content = $2, prompt_tokens = $3, completion_tokens = $4
            WHERE id = $1 AND status = 'STREAMING'`,
          [messageId, state.content, state.promptTokens, state.completionTokens],
          { name: 'sessions.answer.checkpoint' },
        ),
      )
      .then(
        () => undefined,
        (error) => console.error('[sessions] could not checkpoint a streaming answer', error),
      )
      .finally(() => {
        inFlight = undefined;
      });
  }, everyMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
    },
  };
}
