import { SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import { type Caller, requireCaller } from './capabilities';
import type { GenerationSlots } from './GenerationSlots';
import type { Generations } from './Generations';
import type { SendMessageInput } from './generated/resolvers-types';
import { allFieldsHandled } from './inputFields';
import { type KnownSessions, type SessionModelUse, toModelUse } from './KnownSessions';
import type { ModelAccess } from './ModelAccess';
import type { SendDeps, SendStrategy, SentMessage } from './SendStrategy';
import { UUID } from './SessionStore';

export interface MessageSenderDeps extends SendDeps {
  known: KnownSessions;
  /** How the question is stored and the answer started (sendStrategyFor). */
  strategy: SendStrategy;
  /** SessionsLimits.maxMessageChars */
  maxMessageChars: number;
  /** The concurrent-generation quota (per user and per tenant); without it, no quota. */
  slots?: GenerationSlots;
}

/**
 * sendMessage: checks the message, asks the constitution and recalls memory, takes a generation
 * slot, and hands the rest to the database's send strategy.
 */
export class MessageSender {
  private readonly access: ModelAccess;
  private readonly generations: Generations;

  constructor(private readonly deps: MessageSenderDeps) {
    this.access = deps.access;
    this.generations = deps.generations;
  }

  async send(claims: VerifiedClaims | null, input: SendMessageInput): Promise<SentMessage> {
    const caller = requireCaller(claims, 'sessions:write');
    const { sessionId, content, ...unhandled } = input;
    allFieldsHandled(unhandled);
    if (content.trim().length === 0)
      throw new SomaError('BAD_USER_INPUT', 'content is empty', { field: 'content' });
    const { maxMessageChars } = this.deps;
    if (content.length > maxMessageChars) {
      throw new SomaError('BAD_USER_INPUT', `content is limited to ${maxMessageChars} characters`, {
        field: 'content',
        limit: maxMessageChars,
      });
    }
    // The constitution is asked and memory recalled BEFORE this domain's transaction, side by
    // side: a denial stores nothing and never reaches the model; recall reads through the memory
    // domain's own transactions, and the embedded database serialises transactions (one would
    // wait forever). An unknown or foreign session has no model use here; the transaction
    // reports it (NOT_FOUND / FORBIDDEN).
    const use = await this.modelUse(caller, sessionId);
    const [recalled] = await Promise.all([
      use ? this.access.recall(claims!, use, sessionId, content) : null,
      use ? this.access.authorize(claims!, caller, use) : undefined,
    ]);
    // Before `known` is read: from there to the reservation there must be no await.
    const releaseSlots = await this.deps.slots?.take(caller);
    const known =
      use && !this.generations.has(sessionId)
        ? this.deps.known.conversation(caller.tenantId, sessionId)
        : undefined;
    const answering = this.deps.strategy.send({
      caller,
      claims: claims!,
      sessionId,
      content,
      use,
      recalled,
      known,
    });
    return releaseSlots ? this.releaseWhenAnswered(sessionId, answering, releaseSlots) : answering;
  }

  /**
   * Gives the generation slots back when the answer ends (or at once, should sendMessage fail
   * or the answer already be over).
   */
  private async releaseWhenAnswered<T>(
    sessionId: string,
    answering: Promise<T>,
    release: () => void,
  ): Promise<T> {
    try {
      const answer = await answering;
      const generation = this.generations.get(sessionId);
      if (generation) void generation.done.then(release);
      else release();
      return answer;
    } catch (error) {
      release();
      throw error;
    }
  }

  /** What the session's model calls use, or null when the session is not the caller's tenant's. */
  private async modelUse(caller: Caller, sessionId: string): Promise<SessionModelUse | null> {
    if (!UUID.test(sessionId)) return null;
    const cached = this.deps.known.modelUse(caller.tenantId, sessionId);
    if (cached) return cached;
    const columns = await this.deps.db.withScope({ tenantId: caller.tenantId }, (tx) =>
      this.deps.store.modelUseColumns(tx, sessionId),
    );
    if (!columns) return null;
    const use = toModelUse(columns);
    this.deps.known.rememberModelUse(caller.tenantId, sessionId, use);
    return use;
  }
}
