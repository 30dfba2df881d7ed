/**
 * Subjects whose tokens issued up to a moment are no longer valid: an API key revoked, a user
 * disabled, a role taken away. Per-subject generation by time, so one entry covers every token
 * the subject holds; entries are dropped once every token they could refuse has expired anyway.
 * In memory, per process: in the embedded platform identity and the router share one process
 * and so one list. Several processes need a shared list (not shipped yet).
 */
export class RevocationList {
  /** subject → revoked at (epoch seconds): tokens with `iat` ≤ this are refused. */
  private readonly revokedAt = new Map<string, number>();

  /**
   * @param forgetAfterSeconds how long an entry is kept: at least the longest token lifetime
   * plus clock tolerance, after which no token it could refuse is still valid.
   */
  constructor(private readonly forgetAfterSeconds: number) {}

  /**
   * Refuses every token of `subject` issued until now. Tokens issued within the same second are
   * refused too (`iat` has whole seconds): a new sign-in right after a role change waits ≤ 1 s.
   */
  revoke(subject: string, now = Date.now()): void {
    this.revokedAt.delete(subject);
    this.revokedAt.set(subject, Math.floor(now / 1000));
    this.prune(now);
  }

  /** Whether a token of `subject` issued at `issuedAt` (seconds; unknown counts as oldest) is revoked. */
  isRevoked = (token: { subject: string; issuedAt: number | undefined }): boolean => {
    const at = this.revokedAt.get(token.subject);
    return at !== undefined && (token.issuedAt ?? 0) <= at;
  };

  private prune(now: number): void {
    const before = Math.floor(now / 1000) - this.forgetAfterSeconds;
    // Insertion order is revocation order: stop at the first entry still needed.
    for (const [subject, at] of this.revokedAt) {
      if (at > before) break;
      this.revokedAt.delete(subject);
    }
  }
}
