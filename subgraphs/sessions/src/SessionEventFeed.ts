import type { StreamLog } from '@somaagent/ports';
import type { Generations } from './Generations';

/** What the session event stream carries (the GraphQL SessionEvent minus sequence/sessionId). */
export type SessionEventPayload =
  | { type: 'TOKEN'; messageId: string; delta: string; occurredAt: string }
  | {
      type: 'USAGE';
      messageId: string;
      promptTokens: number;
      completionTokens: number;
      costUsd: number;
      occurredAt: string;
    }
  | { type: 'COMPLETED'; messageId: string; finishReason: string; occurredAt: string }
  | {
      type: 'FAILED';
      messageId: string;
      code: string;
      message: string;
      retriable: boolean;
      occurredAt: string;
    }
  | { type: 'CANCELLED'; messageId: string; occurredAt: string };

export type SessionEvent = { sequence: number; sessionId: string } & SessionEventPayload;

/** Which of a session's events its subscribers have taken (SessionEventFeed.watchHandOver). */
export interface HandOverWatch {
  /** The highest sequence a subscriber has taken since the watch started (0: none). */
  takenUpTo(): number;
  /** Resolves once a subscriber has taken event `sequence`, or after `ms`. */
  until(sequence: number, ms: number): Promise<void>;
  stop(): void;
}

/** Stream key of a session's events in the StreamLog. */
export const sessionStream = (sessionId: string) => `session:${sessionId}`;

/**
 * Each session's events in the StreamLog: appended by the generation runner, followed by the
 * sessionEvents subscriptions. Counts each session's subscribers (Generations cancels an answer
 * nobody watches any more) and tells listeners which event a subscriber has taken (AnswerFirst
 * waits for its first token to be on its way before it stores the messages).
 */
export class SessionEventFeed {
  private readonly watchers = new Map<string, number>();
  private readonly handOver = new Map<string, Set<(sequence: number) => void>>();

  constructor(
    private readonly streams: StreamLog,
    private readonly generations: Generations,
  ) {}

  /** Appends above `floor` (the session's stored last sequence). */
  append(sessionId: string, payload: SessionEventPayload, floor: number): Promise<{ sequence: number }> {
    return this.streams.append(sessionStream(sessionId), payload, { floor });
  }

  lastSequence(sessionId: string): Promise<number> {
    return this.streams.lastSequence(sessionStream(sessionId));
  }

  /** The session's events after `afterSequence`, then live, until the consumer stops. */
  async *follow(sessionId: string, afterSequence: number): AsyncGenerator<SessionEvent> {
    const abort = new AbortController();
    this.watch(sessionId, +1);
    try {
      for await (const entry of this.streams.subscribe<SessionEventPayload>(
        sessionStream(sessionId),
        afterSequence,
        abort.signal,
      )) {
        yield { sequence: entry.sequence, sessionId, ...entry.payload };
        // The consumer asked for the next event: it has taken this one (graphql-ws writes an
        // event to the socket before it asks for the next).
        for (const listener of this.handOver.get(sessionId) ?? []) listener(entry.sequence);
      }
    } finally {
      abort.abort();
      this.watch(sessionId, -1);
    }
  }

  /** Live sessionEvents subscriptions of a session. */
  watcherCount(sessionId: string): number {
    return this.watchers.get(sessionId) ?? 0;
  }

  /**
   * Starts noting which of the session's events its subscribers have taken (AnswerFirst waits
   * for its first token to be on its way); `stop()` ends it.
   */
  watchHandOver(sessionId: string): HandOverWatch {
    let upTo = 0;
    let wake: (() => void) | undefined;
    const listener = (sequence: number) => {
      upTo = Math.max(upTo, sequence);
      wake?.();
    };
    let listeners = this.handOver.get(sessionId);
    if (!listeners) {
      listeners = new Set();
      this.handOver.set(sessionId, listeners);
    }
    listeners.add(listener);
    return {
      takenUpTo: () => upTo,
      until: (sequence, ms) =>
        new Promise<void>((resolve) => {
          const timeout = setTimeout(resolve, ms);
          wake = () => {
            if (upTo < sequence) return;
            clearTimeout(timeout);
            resolve();
          };
        }),
      stop: () => {
        const current = this.handOver.get(sessionId);
        if (!current) return;
        current.delete(listener);
        if (current.size === 0) this.handOver.delete(sessionId);
      },
    };
  }

  private watch(sessionId: string, delta: 1 | -1) {
    const count = (this.watchers.get(sessionId) ?? 0) + delta;
    if (count <= 0) this.watchers.delete(sessionId);
    else this.watchers.set(sessionId, count);
    this.generations.watchersChanged(sessionId, count);
  }
}
