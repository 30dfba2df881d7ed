import type { VerifiedClaims } from '@somaagent/internal-auth';

/** One recalled passage a prompt was given, by the memory item it came from. */
export interface RecalledPassage {
  /** The `[n]` marker the passage carries in the context text. */
  marker: number;
  memoryItemId: string;
  score: number;
  /** The item's text, for callers that hand items on as data (capsule memory-recall steps). */
  text?: string;
  /** Where the item lives (`TENANT`, `USER` with the user's id, `SESSION` with its id, ...). */
  scope?: { kind: string; id: string | null };
}

/**
 * Retrieval-augmented context for a question, as the caller may see it (tenancy, scopes and
 * capabilities of `claims` apply). The memory domain implements it; sessions consume it without
 * importing that domain.
 */
export interface ContextRetriever {
  /**
   * Searches what the caller may see: the tenant's and the caller's own memories, plus this
   * session's when `sessionId` is given (capsule runs have no session).
   */
  retrieve(
    claims: VerifiedClaims,
    question: string,
    k: number,
    context: { sessionId?: string },
  ): Promise<{ text: string; passages: RecalledPassage[] }>;
}
