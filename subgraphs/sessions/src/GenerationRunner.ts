import { SomaError } from '@somaagent/errors';
import type { OutboxRelay } from '@somaagent/events';
import type {
  ChatChunk,
  ChatMessage,
  ChatModel,
  SqlDatabase,
  TokenUsage,
  UsageSource,
} from '@somaagent/ports';
import { ChatModelError } from '@somaagent/ports';
import type { Caller } from './capabilities';
import { type GenerationCheckpoints, startCheckpoints } from './GenerationCheckpoints';
import type { ReservedGeneration } from './Generations';
import type { ModelProvider } from './generated/resolvers-types';
import type { KnownSessions, SessionModelUse } from './KnownSessions';
import type { PriceTable } from './prices';
import { type AnswerRecord, answerCost, recordAnswer } from './recordAnswer';
import type { SessionEventFeed, SessionEventPayload } from './SessionEventFeed';
import type { SessionStore } from './SessionStore';
import type { SessionsLimits } from './SessionsLimits';

/** Whether the answer's two messages were stored (AnswerFirst stores them after the first token). */
export type BookingOutcome = { stored: true } | { stored: false; error: unknown };

/** One answer as the runner streams and books it. */
export interface Answer {
  sessionId: string;
  messageId: string;
  provider: ModelProvider;
  model: string;
  chunks: AsyncIterable<ChatChunk>;
  modelStartedAt: number;
  /** The history the prompt was built with (the next answer's prompt starts from it). */
  recent: ChatMessage[];
  question: string;
  /** The session's stored last event sequence: this answer's events go above it. */
  floor: number;
  booking: Promise<BookingOutcome>;
  /** Called with each token's sequence, and without one when the model stream ends (AnswerFirst books then). */
  onAnswering?: (sequence?: number) => void;
}

export interface GenerationRunnerDeps {
  db: SqlDatabase;
  store: SessionStore;
  feed: SessionEventFeed;
  known: KnownSessions;
  models: Partial<Record<ModelProvider, ChatModel>>;
  prices: PriceTable;
  outbox: OutboxRelay;
  limits: Pick<SessionsLimits, 'generationTimeoutMs' | 'checkpointMs' | 'historyMessages'>;
}

/** The abort reason of an answer stopped by `generationTimeoutMs`. */
class GenerationTimeout extends Error {
  constructor(ms: number) {
    super(
      `the answer was still generating after ${ms} ms and was stopped; what it produced is stored and metered — send a shorter request or raise generationTimeoutMs`,
    );
    this.name = 'GenerationTimeout';
  }
}

/** How the model stream of one answer ended, with what it produced and used. */
interface Streamed {
  text: string;
  ttftMs: number | null;
  used: TokenUsage & { source: UsageSource };
  status: AnswerRecord['status'];
  finishReason: string;
  failure?: { code: string; message: string; retriable: boolean };
}

/** Appends one answer's events above its floor, remembering the last sequence. */
class AnswerEvents {
  last: number;
  constructor(
    private readonly feed: SessionEventFeed,
    private readonly sessionId: string,
    private readonly floor: number,
  ) {
    this.last = floor;
  }
  async emit(payload: SessionEventPayload): Promise<void> {
    this.last = (await this.feed.append(this.sessionId, payload, this.floor)).sequence;
  }
}

const now = () => new Date().toISOString();

/** What the client is told of a model stream that failed (not cancelled). */
const failureOf = (error: unknown): NonNullable<Streamed['failure']> => {
  const retriable = error instanceof ChatModelError ? error.retriable : false;
  if (!(error instanceof ChatModelError)) console.error('[sessions] generation failed', error);
  return {
    code: retriable ? 'UNAVAILABLE' : 'INTERNAL_SERVER_ERROR',
    message: error instanceof ChatModelError ? error.message : 'the answer could not be generated',
    retriable,
  };
};

/**
 * Generates answers: starts the model stream, sends each token as a session event, and when the
 * stream ends stores and meters the answer (however it ended) and sends its terminal event.
 */
export class GenerationRunner {
  /** Sessions whose model stream is still open (the part that costs tokens). */
  private readonly streaming = new Set<string>();

  constructor(private readonly deps: GenerationRunnerDeps) {}

  /** Model streams open right now: drops as soon as a cancelled generation stops consuming tokens. */
  openModelStreams(): number {
    return this.streaming.size;
  }

  /**
   * Starts the provider's stream at once (the first `next()` sends the request) and hands back
   * an iterable that yields from the start; errors surface when it is consumed.
   */
  startModel(use: SessionModelUse, messages: ChatMessage[], signal: AbortSignal): AsyncIterable<ChatChunk> {
    const model = this.deps.models[use.provider];
    if (!model) {
      return (async function* () {
        yield* [];
        throw new ChatModelError(`provider ${use.provider} is not configured`, false);
      })();
    }
    const iterator = model
      .stream({
        model: use.model,
        messages,
        temperature: use.temperature,
        maxTokens: use.maxTokens,
        signal,
      })
      [Symbol.asyncIterator]();
    const first = iterator.next();
    first.catch(() => undefined); // observed when consumed
    let handedOut = false;
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => {
          if (handedOut) return iterator.next();
          handedOut = true;
          return first;
        },
        return: async (value?: unknown) => {
          await iterator.return?.(value);
          return { done: true as const, value: undefined };
        },
      }),
    };
  }

  /** Generates `answer` in the background; the session is released when it is stored. */
  run(caller: Caller, answer: Answer, generation: ReservedGeneration): void {
    void this.generate(caller, answer, generation).catch((error) => {
      console.error('[sessions] generation bookkeeping failed', error);
      generation.release();
    });
  }

  private async generate(caller: Caller, answer: Answer, generation: ReservedGeneration): Promise<void> {
    const events = new AnswerEvents(this.deps.feed, answer.sessionId, answer.floor);
    const streamed = await this.stream(caller, answer, generation, events);
    // Answered first (AnswerFirst): the messages may still be being stored.
    const booking = await answer.booking;
    if (booking.stored) await this.finishStored(caller, answer, generation, events, streamed);
    else await this.finishUnstored(caller, answer, generation, events, streamed, booking.error);
  }

  /** Consumes the model stream, sending each token, until it ends, fails, is cancelled or times out. */
  private async stream(
    caller: Caller,
    answer: Answer,
    generation: ReservedGeneration,
    events: AnswerEvents,
  ): Promise<Streamed> {
    const { sessionId, messageId } = answer;
    const { limits } = this.deps;
    const signal = generation.abort.signal;
    const started = answer.modelStartedAt;
    let ttftMs: number | null = null;
    let text = '';
    let deltas = 0;
    // The engine's running counts (deltas carry them where it reports them) and its final usage.
    let running: TokenUsage | undefined;
    let usage: (TokenUsage & { source: UsageSource }) | undefined;
    let finishReason = 'stop';
    let status: Streamed['status'] = 'COMPLETE';
    let failure: Streamed['failure'];

    const timeout = setTimeout(
      () => generation.abort.abort(new GenerationTimeout(limits.generationTimeoutMs)),
      limits.generationTimeoutMs,
    );
    timeout.unref();
    let checkpointed = 0;
    let checkpoints: GenerationCheckpoints | undefined;
    const startCheckpointing = () =>
      startCheckpoints(this.deps.db, caller.tenantId, messageId, limits.checkpointMs, () => {
        if (deltas === checkpointed) return undefined;
        checkpointed = deltas;
        return { content: text, ...(running ?? { promptTokens: 0, completionTokens: deltas }) };
      });
    this.streaming.add(sessionId);
    try {
      for await (const chunk of answer.chunks) {
        if (chunk.type === 'delta') {
          text += chunk.text;
          deltas++;
          if (chunk.usage) running = chunk.usage;
          // Cancelled: the adapter ends its stream (with its usage) at once; a delta it had
          // already delivered is stored and counted, but no longer sent.
          if (signal.aborted) continue;
          ttftMs ??= Math.round(performance.now() - started);
          await events.emit({ type: 'TOKEN', messageId, delta: chunk.text, occurredAt: now() });
          answer.onAnswering?.(events.last);
          // Once the first token is on its way, not before it.
          checkpoints ??= startCheckpointing();
        } else if (chunk.type === 'usage') {
          usage = {
            promptTokens: chunk.promptTokens,
            completionTokens: chunk.completionTokens,
            source: chunk.source ?? 'engine',
          };
        } else {
          finishReason = chunk.reason;
        }
      }
      if (finishReason === 'cancelled' || signal.aborted) {
        status = 'CANCELLED';
        finishReason = 'cancelled';
      }
    } catch (error) {
      status = signal.aborted ? 'CANCELLED' : 'FAILED';
      finishReason = signal.aborted ? 'cancelled' : 'error';
      if (!signal.aborted) failure = failureOf(error);
    } finally {
      clearTimeout(timeout);
      this.streaming.delete(sessionId);
      answer.onAnswering?.();
    }
    if (signal.reason instanceof GenerationTimeout) {
      status = 'FAILED';
      finishReason = 'timeout';
      failure = { code: 'UNAVAILABLE', message: signal.reason.message, retriable: true };
    }
    await checkpoints?.stop();
    // What the answer used, however it ended: the engine's usage; else its running counts; else
    // (an adapter that reported neither) the deltas received.
    const used: TokenUsage & { source: UsageSource } =
      usage ??
      (running
        ? { ...running, source: 'engine' }
        : { promptTokens: 0, completionTokens: deltas, source: 'estimate' });
    return { text, ttftMs, used, status, finishReason, ...(failure ? { failure } : {}) };
  }

  /**
   * Nothing was stored; the stream says so with the booking's own error, and the session's
   * sequence floor moves above the events already sent (a restarted log continues above).
   * The tokens the engine produced are still metered (SessionStore.recordUnstoredAnswer).
   */
  private async finishUnstored(
    caller: Caller,
    answer: Answer,
    generation: ReservedGeneration,
    events: AnswerEvents,
    { used, ttftMs }: Streamed,
    error: unknown,
  ): Promise<void> {
    const { sessionId, messageId } = answer;
    const coded = error instanceof SomaError ? error : undefined;
    if (!coded) console.error('[sessions] storing the messages failed', error);
    const finalSequence = events.last + 1;
    this.deps.known.forgetConversation(caller.tenantId, sessionId);
    const costUsd = answerCost(this.deps.prices, answer.model, used.promptTokens, used.completionTokens);
    await this.deps.db
      .withScope({ tenantId: caller.tenantId }, (tx) =>
        this.deps.store.recordUnstoredAnswer(tx, caller, {
          sessionId,
          messageId,
          provider: answer.provider,
          model: answer.model,
          used,
          costUsd,
          latencyMs: Math.round(performance.now() - answer.modelStartedAt),
          ttftMs,
          finalSequence,
        }),
      )
      .catch((e) => console.error('[sessions] could not record the sequence of an unstored answer', e));
    generation.release();
    await events.emit({
      type: 'FAILED',
      messageId,
      code: coded?.code ?? 'INTERNAL_SERVER_ERROR',
      message: `the message was not stored: ${coded?.message ?? 'internal error'}`,
      retriable: coded?.extensions?.retriable === true,
      occurredAt: now(),
    });
  }

  /** Every ending is metered and published the same way (recordAnswer), cancelled ones too. */
  private async finishStored(
    caller: Caller,
    answer: Answer,
    generation: ReservedGeneration,
    events: AnswerEvents,
    { text, ttftMs, used, status, finishReason, failure }: Streamed,
  ): Promise<void> {
    const { sessionId, messageId } = answer;
    const { db, outbox, limits } = this.deps;
    const cost = answerCost(this.deps.prices, answer.model, used.promptTokens, used.completionTokens);
    await events.emit({
      type: 'USAGE',
      messageId,
      promptTokens: used.promptTokens,
      completionTokens: used.completionTokens,
      costUsd: cost,
      occurredAt: now(),
    });
    const latencyMs = Math.round(performance.now() - answer.modelStartedAt);
    // The final event's sequence is reserved in the row written before it is emitted, so a
    // client that sees COMPLETED can read the stored totals, and a restarted log continues above.
    const finalSequence = events.last + 1;
    await db.withScope({ tenantId: caller.tenantId }, (tx) =>
      recordAnswer(
        tx,
        outbox,
        {
          tenantId: caller.tenantId,
          sessionId,
          messageId,
          userId: caller.subject,
          provider: answer.provider,
          model: answer.model,
          content: text,
          status,
          finishReason,
          promptTokens: used.promptTokens,
          completionTokens: used.completionTokens,
          usageSource: used.source,
          latencyMs,
          ttftMs,
          finalSequence,
        },
        cost,
      ),
    );
    outbox.kick();
    this.deps.known.rememberConversation(caller.tenantId, sessionId, {
      history: [
        ...answer.recent,
        { role: 'user' as const, content: answer.question },
        ...(status === 'COMPLETE' ? [{ role: 'assistant' as const, content: text }] : []),
      ].slice(-limits.historyMessages),
      lastSequence: finalSequence,
    });
    // The session is released BEFORE the terminal event goes out: a client that sees
    // COMPLETED may send its next message at once.
    generation.release();
    const occurredAt = now();
    if (status === 'COMPLETE') await events.emit({ type: 'COMPLETED', messageId, finishReason, occurredAt });
    else if (status === 'CANCELLED') await events.emit({ type: 'CANCELLED', messageId, occurredAt });
    else await events.emit({ type: 'FAILED', messageId, ...failure!, occurredAt });
  }
}
