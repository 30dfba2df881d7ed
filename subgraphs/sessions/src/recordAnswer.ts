import type { OutboxRelay } from '@somaagent/events';
import type { SqlExecutor, UsageSource } from '@somaagent/ports';
import { costUsd, type PriceTable } from './prices';

export const CONVERSATION_TOPIC = 'conversation.events';
export const SLM_REQUESTS_TOPIC = 'slm.requests';

/** How an answer ended, with what it used: what is stored and published for every answer. */
export interface AnswerRecord {
  tenantId: string;
  sessionId: string;
  messageId: string;
  userId: string;
  provider: string;
  model: string;
  content: string;
  status: 'COMPLETE' | 'FAILED' | 'CANCELLED';
  finishReason: string;
  promptTokens: number;
  completionTokens: number;
  /**
   * Where the counts come from: `engine`, `estimate` (UsageSource), or `checkpoint` — an answer
   * repaired after a crash, with the counts its last checkpoint stored.
   */
  usageSource: UsageSource | 'checkpoint';
  latencyMs: number | null;
  ttftMs: number | null;
  /** The answer's final event sequence, reserved in the session row before it is emitted. */
  finalSequence: number;
}

/** The answer's cost at the model's price (0 for a model missing from the table). */
export const answerCost = (
  prices: PriceTable,
  model: string,
  promptTokens: number,
  completionTokens: number,
) => {
  const price = prices[model];
  return price ? costUsd(price, promptTokens, completionTokens) : 0;
};

/**
 * Stores how an answer ended — the message, the session's totals, and the `slm.requests` and
 * `conversation.events` outbox rows — in the caller's transaction. One path for every ending
 * (completed, cancelled, failed, timed out, repaired after a crash), so usage and cost are
 * metered and published the same way whatever stopped the answer. Only a STREAMING message is
 * ended (returns false otherwise): an answer is metered once.
 */
export async function recordAnswer(
  tx: SqlExecutor,
  outbox: OutboxRelay,
  record: AnswerRecord,
  cost: number,
): Promise<boolean> {
  const updated = await tx.query(
    `UPDATE sessions.messages SET content = $2, status = $3, prompt_tokens = $4, completion_tokens = $5,
            cost_usd = $6, latency_ms = $7, ttft_ms = $8, finish_reason = $9
      WHERE id = $1 AND status = 'STREAMING'`,
    [
      record.messageId,
      record.content,
      record.status,
      record.promptTokens,
      record.completionTokens,
      cost,
      record.latencyMs,
      record.ttftMs,
      record.finishReason,
    ],
    { name: 'sessions.answer.message' },
  );
  if (updated.rowCount === 0) return false;
  await tx.query(
    `UPDATE sessions.sessions SET prompt_tokens = prompt_tokens + $2, completion_tokens = completion_tokens + $3,
            cost_usd = cost_usd + $4, last_sequence = GREATEST(last_sequence, $5), updated_at = now() WHERE id = $1`,
    [record.sessionId, record.promptTokens, record.completionTokens, cost, record.finalSequence],
    { name: 'sessions.answer.session' },
  );
  await outbox.enqueue(tx, record.tenantId, SLM_REQUESTS_TOPIC, 'slm.request', {
    sessionId: record.sessionId,
    messageId: record.messageId,
    userId: record.userId,
    provider: record.provider,
    model: record.model,
    promptTokens: record.promptTokens,
    completionTokens: record.completionTokens,
    usageSource: record.usageSource,
    costUsd: cost,
    latencyMs: record.latencyMs,
    timeToFirstTokenMs: record.ttftMs,
    status: record.status,
    finishReason: record.finishReason,
  });
  await outbox.enqueue(tx, record.tenantId, CONVERSATION_TOPIC, `message.${record.status.toLowerCase()}`, {
    sessionId: record.sessionId,
    messageId: record.messageId,
    role: 'ASSISTANT',
    chars: record.content.length,
  });
  return true;
}
