/**
 * Append-only, sequence-numbered event streams with bounded retention: what lets a client that
 * reconnects with `afterSequence` receive every event it missed, in order, exactly once.
 * Embedded: in memory. Distributed: a shared store (e.g. Redis) so any replica can replay.
 */
export interface StreamEntry<Payload = unknown> {
  /** 1, 2, 3, … per stream; never reused. */
  sequence: number;
  payload: Payload;
  /** Epoch milliseconds. */
  at: number;
}

export interface StreamLog extends AsyncDisposable {
  readonly kind: string;
  /**
   * Appends and returns the new entry (its sequence is one more than the last). `floor` is the
   * last sequence the caller knows was ever used (e.g. persisted with the session), so a stream
   * restarted after a process restart or expiry continues above it instead of reusing numbers.
   */
  append<Payload>(
    stream: string,
    payload: Payload,
    options?: { floor?: number },
  ): Promise<StreamEntry<Payload>>;
  /** The last sequence of the stream, 0 if it has none (or they all expired). */
  lastSequence(stream: string): Promise<number>;
  /**
   * Entries after `afterSequence` (retained ones), then live ones as they are appended, until
   * the signal aborts or the iterator is returned.
   */
  subscribe<Payload>(
    stream: string,
    afterSequence: number,
    signal?: AbortSignal,
  ): AsyncIterableIterator<StreamEntry<Payload>>;
}
