/** An answer being generated: the session is busy until `release()`. */
export interface ReservedGeneration {
  abort: AbortController;
  /** The answer's message id ('' until it is known). */
  messageId: string;
  /** Settles once the answer is stored and its session released. */
  done: Promise<void>;
  release(): void;
}

/**
 * The answers this process is generating, one per session at most: sendMessage reserves the
 * session, cancel, close and disconnects find the answer here. An answer whose session lost its
 * last subscriber is cancelled after a grace period (a client that reconnects in time keeps it).
 */
export class Generations {
  private readonly active = new Map<string, ReservedGeneration>();
  private readonly cancelTimers = new Map<string, NodeJS.Timeout>();

  constructor(
    /** SessionsLimits.disconnectGraceMs */
    private readonly disconnectGraceMs: number,
  ) {}

  get(sessionId: string): ReservedGeneration | undefined {
    return this.active.get(sessionId);
  }

  has(sessionId: string): boolean {
    return this.active.has(sessionId);
  }

  /** Number of answers being generated right now. */
  get size(): number {
    return this.active.size;
  }

  /**
   * Marks the session as answering. The caller checked `has` with no await since.
   * `release` frees the session exactly once.
   */
  reserve(sessionId: string, messageId: string, abort = new AbortController()): ReservedGeneration {
    let finish!: () => void;
    const done = new Promise<void>((r) => {
      finish = r;
    });
    let released = false;
    const generation: ReservedGeneration = {
      abort,
      messageId,
      done,
      release: () => {
        if (released) return;
        released = true;
        if (this.active.get(sessionId) === generation) this.active.delete(sessionId);
        clearTimeout(this.cancelTimers.get(sessionId));
        this.cancelTimers.delete(sessionId);
        finish();
      },
    };
    this.active.set(sessionId, generation);
    return generation;
  }

  /**
   * The session's live subscriptions now number `watchers`. Every change restarts the grace
   * period, so when the timer fires the session has had no subscriber for all of it.
   */
  watchersChanged(sessionId: string, watchers: number): void {
    clearTimeout(this.cancelTimers.get(sessionId));
    this.cancelTimers.delete(sessionId);
    if (watchers <= 0 && this.active.has(sessionId)) {
      const timer = setTimeout(() => {
        this.cancelTimers.delete(sessionId);
        this.active.get(sessionId)?.abort.abort();
      }, this.disconnectGraceMs);
      timer.unref();
      this.cancelTimers.set(sessionId, timer);
    }
  }

  /** Stops every answer and waits until each is stored. */
  async [Symbol.asyncDispose](): Promise<void> {
    for (const generation of this.active.values()) generation.abort.abort();
    await Promise.all([...this.active.values()].map((g) => g.done));
    for (const timer of this.cancelTimers.values()) clearTimeout(timer);
  }
}
