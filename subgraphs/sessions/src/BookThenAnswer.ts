import { SomaError } from '@somaagent/errors';
import type { ChatChunk, ChatMessage, SqlExecutor } from '@somaagent/ports';
import type { ReservedGeneration } from './Generations';
import { toModelUse } from './KnownSessions';
import { promptOf, samePrompt } from './promptOf';
import type { SendDeps, SendRequest, SendStrategy, SentMessage } from './SendStrategy';
import type { SessionRow } from './SessionStore';

/** A model request made before the transaction, on a guessed prompt. */
interface EarlyRequest {
  messages: ChatMessage[];
  chunks: AsyncIterable<ChatChunk>;
  startedAt: number;
  abort: AbortController;
}

/**
 * sendMessage when the database is a server, or the session is not known here: the messages
 * are stored first, and the answer's events follow the commit. The model is still asked early
 * when the prompt can be guessed (its time to first token overlaps the transaction).
 */
export class BookThenAnswer implements SendStrategy {
  readonly name = 'book-then-answer';

  constructor(private readonly deps: SendDeps) {}

  async send(request: SendRequest): Promise<SentMessage> {
    const { caller, sessionId, content } = request;
    const { db, store, feed, generations, runner } = this.deps;
    const abort = new AbortController();
    const early = this.askEarly(request, abort);
    let generation: ReservedGeneration | undefined;
    try {
      const prepared = await db.withScope({ tenantId: caller.tenantId }, async (tx) => {
        // Ownership first: whether another tenant's session is busy is none of the caller's business.
        const session = await store.session(tx, sessionId, true);
        // Check and reserve with no await in between, so two concurrent sends cannot both start.
        if (generations.has(sessionId)) {
          throw new SomaError('CONFLICT', 'the session is still answering; cancel it or wait for COMPLETED');
        }
        generation = generations.reserve(sessionId, '', abort);
        return this.prepare(tx, request, session, early, abort);
      });
      // The relay is not kicked here: on the embedded database its drain is a transaction that
      // would run exactly while the first token travels (measured: +14 ms p50 on the router
      // hop). The rows are committed; the relay's poll (outboxPollMs) or the kick at the end of
      // the answer publishes them.
      generation!.messageId = prepared.assistantMessage.id;
      const floor = Number(prepared.session.last_sequence);
      const afterSequence = Math.max(await feed.lastSequence(sessionId), floor);
      runner.run(
        caller,
        {
          sessionId,
          messageId: prepared.assistantMessage.id,
          provider: prepared.persona.provider,
          model: prepared.persona.model,
          chunks: prepared.chunks,
          modelStartedAt: prepared.modelStartedAt,
          recent: prepared.recent,
          question: content,
          floor,
          booking: Promise.resolve({ stored: true }),
        },
        generation!,
      );
      return {
        userMessage: prepared.userMessage,
        assistantMessage: prepared.assistantMessage,
        afterSequence,
      };
    } catch (error) {
      abort.abort();
      generation?.release();
      throw error;
    }
  }

  /**
   * Time to first token: with the session's history known here (it usually is), the model is
   * asked NOW, before the transaction. The transaction then checks the guess against the
   * stored history and, should they differ, cancels this request and asks again.
   */
  private askEarly(
    { content, use, recalled, known }: SendRequest,
    abort: AbortController,
  ): EarlyRequest | undefined {
    if (!use || !known) return undefined;
    const earlyAbort = new AbortController();
    abort.signal.addEventListener('abort', () => earlyAbort.abort(), { once: true });
    const messages = promptOf(use.systemPrompt, recalled, known.history, content);
    // Only on a database server (an in-process one answers first instead): its statements are
    // I/O, so the request leaves while the transaction runs.
    return {
      messages,
      startedAt: performance.now(),
      chunks: this.deps.runner.startModel(use, messages, earlyAbort.signal),
      abort: earlyAbort,
    };
  }

  /** In the booking transaction, the session reserved: the model request and the two messages. */
  private async prepare(
    tx: SqlExecutor,
    { caller, claims, content, use, recalled }: SendRequest,
    session: SessionRow,
    early: EarlyRequest | undefined,
    abort: AbortController,
  ) {
    const { store, runner, access } = this.deps;
    if (session.status === 'CLOSED')
      throw new SomaError('CONFLICT', 'the session is closed; start a new one');
    const { history, ...persona } = await store.personaAndHistory(tx, session);
    // Fail-closed: a model call the constitution was not asked about is never made.
    if (use?.personaId !== persona.id) {
      await access.authorize(claims, caller, toModelUse(persona));
    }
    const messages = promptOf(persona.system_prompt, recalled, history, content);
    // The model was asked before the transaction if the prompt could be guessed; otherwise
    // it is asked NOW, while the rest of this transaction runs. Either way its time to
    // first token overlaps the writes. Nothing is emitted before the commit (chunks wait in
    // the prefetched iterator), and a failed transaction aborts the request.
    let modelStartedAt: number;
    let chunks: AsyncIterable<ChatChunk>;
    if (early && persona.id === use?.personaId && samePrompt(early.messages, messages)) {
      ({ chunks, startedAt: modelStartedAt } = early);
    } else {
      early?.abort.abort();
      modelStartedAt = performance.now();
      chunks = runner.startModel(toModelUse(persona), messages, abort.signal);
    }
    const stored = await store.storeMessages(tx, caller, session.id, content, recalled);
    return { session, persona, ...stored, chunks, modelStartedAt, recent: history };
  }
}
