export interface SessionsLimits {
  /** @default 32_000 characters */
  maxMessageChars: number;
  /** Earlier messages sent with each prompt. @default 20 */
  historyMessages: number;
  /** A generation whose last watcher disconnected is cancelled after this. @default 300 ms */
  disconnectGraceMs: number;
  /**
   * An answer still generating this long after its model request started is stopped and ends
   * FAILED (`finishReason` `timeout`, code UNAVAILABLE, retriable), metered like any other.
   * @default 600_000 ms (10 minutes)
   */
  generationTimeoutMs: number;
  /**
   * While an answer streams, its text so far and the engine's running counts are written to
   * its STREAMING row this often (only when tokens arrived since), so a crash loses at most
   * this much of its metering. Never within the first-token window. @default 2_000 ms
   */
  checkpointMs: number;
  /**
   * A sessions process writes a heartbeat this often; on a database server, answers left
   * STREAMING by a process unseen for 3 heartbeats are repaired (see
   * recoverInterruptedGenerations). On the in-process database every such answer is repaired at
   * start-up. @default 10_000 ms
   */
  heartbeatMs: number;
}

export const DEFAULT_SESSIONS_LIMITS: SessionsLimits = {
  maxMessageChars: 32_000,
  historyMessages: 20,
  disconnectGraceMs: 300,
  generationTimeoutMs: 600_000,
  checkpointMs: 2_000,
  heartbeatMs: 10_000,
};
