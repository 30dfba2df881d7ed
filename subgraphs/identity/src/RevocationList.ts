import type { SqlDatabase, SqlExecutor } from '@somaagent/ports';

/**
 * Subjects whose tokens issued up to a moment are no longer valid: an API key revoked, a user
 * disabled, a role taken away. Per-subject generation by time, so one entry covers every token
 * the subject holds; entries are dropped once every token they could refuse has expired anyway.
 * Checked in memory (the router asks on every request); each revocation is also stored
 * (`identity.revocations`, see {@link recordRevocation}) and {@link RevocationList.load} reads the
 * ones still relevant at start-up, so a restart forgets nothing. In the embedded platform identity
 * and the router share one process and so one list; a router in its own process follows the
 * stored ones with a {@link RevocationFeed}.
 */
export class RevocationList {
  /** subject → revoked at (epoch seconds): tokens with `iat` ≤ this are refused. */
  private readonly revokedAt = new Map<string, number>();

  /**
   * @param forgetAfterSeconds how long an entry is kept: at least the longest token lifetime
   * plus clock tolerance, after which no token it could refuse is still valid.
   */
  constructor(private readonly forgetAfterSeconds: number) {}

  /** A list holding every stored revocation that can still refuse a valid token. */
  static async load(db: SqlDatabase, forgetAfterSeconds: number): Promise<RevocationList> {
    const list = new RevocationList(forgetAfterSeconds);
    const { rows } = await db.withScope({ tenantId: null }, (tx) =>
      tx.query<{ subject: string; revoked_at: Date | string }>(
        `SELECT subject, revoked_at FROM identity.revocations_since(now() - make_interval(secs => $1))`,
        [forgetAfterSeconds],
      ),
    );
    // Oldest first: the list's insertion order is its revocation order.
    for (const row of rows) list.revoke(row.subject, new Date(row.revoked_at).getTime());
    return list;
  }

  /** Like {@link revoke}, unless `subject` is already revoked at that moment or later (a re-read row). */
  revokeIfNewer(subject: string, at: number): void {
    const known = this.revokedAt.get(subject);
    if (known === undefined || Math.floor(at / 1000) > known) this.revoke(subject, at);
  }

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

/**
 * Stores that every token of the API key or user `subject` issued until now is revoked, in the
 * transaction that revokes it (the row's tenant is read from the key or user itself).
 */
export async function recordRevocation(
  tx: SqlExecutor,
  kind: 'api_key' | 'user',
  subject: string,
): Promise<void> {
  const table = kind === 'api_key' ? 'identity.api_keys' : 'identity.users';
  await tx.query(
    `INSERT INTO identity.revocations (tenant_id, subject, revoked_at)
       SELECT s.tenant_id, s.id::text, now() FROM ${table} s WHERE s.id = $1
     ON CONFLICT (tenant_id, subject) DO UPDATE SET revoked_at = excluded.revoked_at`,
    [subject],
  );
}

/**
 * The stored revocations, followed: every `everyMs` the rows written since the last read (by the
 * identity process, any replica) join an in-memory list, so a router in its own process refuses a
 * revoked token within about that long. One indexed query per interval, whatever the traffic.
 */
export class RevocationFeed implements AsyncDisposable {
  private readonly timer: NodeJS.Timeout;
  /** Newest `revoked_at` read (epoch ms). */
  private newest = 0;
  private polling: Promise<void> | undefined;
  private failing = false;

  private constructor(
    private readonly db: SqlDatabase,
    private readonly list: RevocationList,
    private readonly forgetAfterSeconds: number,
    everyMs: number,
  ) {
    this.timer = setInterval(() => {
      this.polling ??= this.poll().finally(() => {
        this.polling = undefined;
      });
    }, everyMs);
    this.timer.unref();
  }

  /** Reads what is stored now, then follows it. */
  static async start(db: SqlDatabase, forgetAfterSeconds: number, everyMs = 1_000): Promise<RevocationFeed> {
    const feed = new RevocationFeed(db, new RevocationList(forgetAfterSeconds), forgetAfterSeconds, everyMs);
    await feed.poll(true);
    return feed;
  }

  isRevoked = (token: { subject: string; issuedAt: number | undefined }): boolean =>
    this.list.isRevoked(token);

  private async poll(first = false): Promise<void> {
    // A little overlap: rows committed late with an earlier revoked_at are not skipped.
    const sinceSeconds = first ? this.forgetAfterSeconds : Math.max(0, (Date.now() - this.newest) / 1000 + 5);
    try {
      const { rows } = await this.db.withScope({ tenantId: null }, (tx) =>
        tx.query<{ subject: string; revoked_at: Date | string }>(
          `SELECT subject, revoked_at FROM identity.revocations_since(now() - make_interval(secs => $1))`,
          [sinceSeconds],
        ),
      );
      for (const row of rows) {
        const at = new Date(row.revoked_at).getTime();
        this.list.revokeIfNewer(row.subject, at);
        this.newest = Math.max(this.newest, at);
      }
      if (this.newest === 0) this.newest = Date.now() - this.forgetAfterSeconds * 1000;
      this.failing = false;
    } catch (error) {
      if (first) throw error;
      // Keep refusing what is known; say so once per outage, not every interval.
      if (!this.failing) console.error(`identity: reading revocations failed: ${(error as Error).message}`);
      this.failing = true;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    clearInterval(this.timer);
    await this.polling;
  }
}
