import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { SqlDatabase } from '@somaagent/ports';
import { AnswerFirst } from './AnswerFirst';
import { BookThenAnswer } from './BookThenAnswer';
import type { Caller } from './capabilities';
import type { GenerationRunner } from './GenerationRunner';
import type { Generations } from './Generations';
import type { KnownConversation, SessionModelUse } from './KnownSessions';
import type { ModelAccess, Recalled } from './ModelAccess';
import type { SessionEventFeed } from './SessionEventFeed';
import type { MessageRow, SessionStore } from './SessionStore';

/** One sendMessage, checked (input, constitution, quota) and with its memory recalled. */
export interface SendRequest {
  caller: Caller;
  claims: VerifiedClaims;
  sessionId: string;
  content: string;
  /** The session's model use, or null when it is not known to be the caller's tenant's. */
  use: SessionModelUse | null;
  recalled: Recalled | null;
  /** What this process knows of the session (read with no await since: see MessageSender). */
  known: KnownConversation | undefined;
}

export interface SentMessage {
  userMessage: MessageRow;
  assistantMessage: MessageRow;
  afterSequence: number;
}

/** How sendMessage stores the question and starts its answer. */
export interface SendStrategy {
  readonly name: string;
  /** Must reserve the session before its first await (the caller checked it is free). */
  send(request: SendRequest): Promise<SentMessage>;
}

/** What the strategies work with. */
export interface SendDeps {
  db: SqlDatabase;
  store: SessionStore;
  feed: SessionEventFeed;
  generations: Generations;
  runner: GenerationRunner;
  access: ModelAccess;
}

/**
 * The strategy for this database, chosen by what its port declares (`SqlDatabase.inProcess`):
 * in-process, the first token goes out before the messages are stored (AnswerFirst, which
 * books first itself for a session this process does not know); on a server, the messages are
 * stored first (BookThenAnswer).
 */
export function sendStrategyFor(deps: SendDeps): SendStrategy {
  const bookThenAnswer = new BookThenAnswer(deps);
  return deps.db.inProcess ? new AnswerFirst(deps, bookThenAnswer) : bookThenAnswer;
}
