import { randomUUID } from 'node:crypto';
import { SomaError } from '@somaagent/errors';
import type { ChatMessage } from '@somaagent/ports';
import type { BookingOutcome } from './GenerationRunner';
import { promptOf, samePrompt } from './promptOf';
import type { SendDeps, SendRequest, SendStrategy, SentMessage } from './SendStrategy';
import type { HandOverWatch } from './SessionEventFeed';
import type { MessageRow } from './SessionStore';

/** How long AnswerFirst lets the first token go first before it stores the messages anyway. */
const BOOKING_WAIT_MS = 250;
/** …and how long after the first token it waits for a subscriber to have taken it. */
const HANDOVER_WAIT_MS = 20;

/**
 * sendMessage on an in-process database whose session this process knows: the model is asked
 * at once and its first token goes out BEFORE the two messages are stored.
 *
 * Why: the embedded database runs its statements on this event loop, so a transaction between
 * the model request and its first token holds that token back (bench/sessions: ~2-3 ms of
 * BEGIN/statements/COMMIT plus the mutation's answer, ahead of every first token).
 *
 * Why it is safe here: this process is the database's only client, so what it knows about the
 * session (its model use, that it is open, its recent history, its last event sequence) cannot
 * have changed behind its back; the policy was asked and the session reserved before the model.
 * The booking transaction still checks all of it. Should it fail anyway (the session was closed
 * meanwhile), nothing is stored, the mutation answers the error, and the answer's stream ends
 * with FAILED carrying the same code: a client never keeps tokens of an unstored answer
 * without being told.
 *
 * A session this process does not know (or not its model use) goes to `unknownSessions`.
 */
export class AnswerFirst implements SendStrategy {
  readonly name = 'answer-first';

  constructor(
    private readonly deps: SendDeps,
    private readonly unknownSessions: SendStrategy,
  ) {}

  async send(request: SendRequest): Promise<SentMessage> {
    const { caller, sessionId, content, use, recalled, known } = request;
    if (!use || !known) return this.unknownSessions.send(request);
    const { feed, generations, runner } = this.deps;
    // Checked by the caller with no await since: reserve now, so a second send gets CONFLICT.
    const generation = generations.reserve(sessionId, randomUUID());
    const messages = promptOf(use.systemPrompt, recalled, known.history, content);
    const modelStartedAt = performance.now();
    const chunks = runner.startModel(use, messages, generation.abort.signal);
    let booked!: (outcome: BookingOutcome) => void;
    const booking = new Promise<BookingOutcome>((resolve) => {
      booked = resolve;
    });
    let started!: (sequence?: number) => void;
    const answering = new Promise<number | undefined>((resolve) => {
      started = resolve;
    });
    let afterSequence: number;
    try {
      afterSequence = Math.max(await feed.lastSequence(sessionId), known.lastSequence);
    } catch (error) {
      generation.abort.abort();
      generation.release();
      throw error;
    }
    const handOver = feed.watchHandOver(sessionId);
    runner.run(
      caller,
      {
        sessionId,
        messageId: generation.messageId,
        provider: use.provider,
        model: use.model,
        chunks,
        modelStartedAt,
        recent: known.history,
        question: content,
        floor: known.lastSequence,
        booking,
        onAnswering: started,
      },
      generation,
    );
    await this.letFirstTokenGo(sessionId, answering, handOver);
    try {
      const stored = await this.book(request, use.systemPrompt, messages, generation.messageId);
      booked({ stored: true });
      return { ...stored, afterSequence };
    } catch (error) {
      booked({ stored: false, error });
      generation.abort.abort();
      throw error;
    }
  }

  /**
   * Waits for the first token (bounded: a slow model must not hold the question unstored), then
   * until a subscriber has taken it (over graphql-ws: written to its socket), so the booking
   * transaction does not take the event loop while the token is still on its way.
   */
  private async letFirstTokenGo(
    sessionId: string,
    answering: Promise<number | undefined>,
    handOver: HandOverWatch,
  ): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const first = await Promise.race([
      answering,
      new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), BOOKING_WAIT_MS))),
    ]);
    clearTimeout(timer);
    if (first !== undefined && this.deps.feed.watcherCount(sessionId) > 0 && handOver.takenUpTo() < first)
      await handOver.until(first, HANDOVER_WAIT_MS);
    handOver.stop();
  }

  /** Stores the two messages, after checking what the answer was started on still holds. */
  private book(
    { caller, sessionId, content, recalled }: SendRequest,
    systemPrompt: string,
    messages: ChatMessage[],
    messageId: string,
  ): Promise<{ userMessage: MessageRow; assistantMessage: MessageRow }> {
    const { store } = this.deps;
    return this.deps.db.withScope({ tenantId: caller.tenantId }, async (tx) => {
      const session = await store.session(tx, sessionId, true);
      if (session.status === 'CLOSED')
        throw new SomaError('CONFLICT', 'the session is closed; start a new one');
      const { history } = await store.personaAndHistory(tx, session);
      if (!samePrompt(promptOf(systemPrompt, recalled, history, content), messages)) {
        // Only a writer other than this process could cause it; answered as a retriable conflict.
        throw new SomaError(
          'CONFLICT',
          "the session's history changed while the answer started; send the message again",
          { retriable: true },
        );
      }
      return store.storeMessages(tx, caller, session.id, content, recalled, messageId);
    });
  }
}
