/** What a budget applies to. TENANT budgets cover every call of the tenant; the others one id. */
export type BudgetScope = 'TENANT' | 'USER' | 'API_KEY' | 'PERSONA' | 'CAPSULE' | 'PROJECT';

/** The ids a billable call is made under; every budget of the tenant matching one of them applies. */
export interface BudgetSubjects {
  /** The user's subject (token `sub`). */
  userId?: string;
  apiKeyId?: string;
  personaId?: string;
  capsuleId?: string;
  projectId?: string;
}

export interface BudgetHoldRequest {
  tenantId: string;
  subjects: BudgetSubjects;
  /** The call's worst case in integer micro-dollars (1 USD = 1,000,000), 1..10^12. */
  amountMicros: number;
  /**
   * Names the call, unique in the tenant (1..200 characters). A retried hold with the same key
   * returns the hold already placed (whatever its state now) instead of placing another.
   */
  idempotencyKey: string;
  /**
   * An open hold not settled or released by then is expired: its amount returns to the budgets.
   * @default 600
   */
  ttlSeconds?: number;
  /** What the call is, for the ledger (`session.generation`, `capsule.toolCall`, ...), ≤ 200 characters. */
  purpose?: string;
}

export type BudgetHoldState = 'OPEN' | 'SETTLED' | 'RELEASED' | 'EXPIRED';

/** A hold as the ledger has it. `amountMicros = postedMicros + releasedMicros` once it is not OPEN. */
export interface BudgetHold {
  tenantId: string;
  holdId: string;
  idempotencyKey: string;
  state: BudgetHoldState;
  amountMicros: number;
  postedMicros: number;
  releasedMicros: number;
  /** The budgets it counts against (none when the tenant has no budget that applies). */
  budgetIds: string[];
  /** ISO 8601 */
  expiresAt: string;
}

/** Why a hold was refused: the first budget (in id order) the amount did not fit. */
export interface BudgetRefusal {
  budgetId: string;
  scope: BudgetScope;
  /** '' for TENANT. */
  scopeId: string;
  limitMicros: number;
  /** What was left in the budget's period when the hold was refused (limit − posted − held, ≥ 0). */
  remainingMicros: number;
  requestedMicros: number;
  /** ISO 8601: when the budget's period starts again; null for TOTAL budgets, which never reset. */
  resetsAt: string | null;
}

export type BudgetHoldResult = { ok: true; hold: BudgetHold } | { ok: false; refusal: BudgetRefusal };

/**
 * What a settled call used, stored with its cost in the usage record its settlement writes (one
 * per settled hold, in the same transaction) and published as a `billing.usage` event.
 */
export interface BudgetUsage {
  /** The model called (a price-table name), ≤ 200 characters. */
  model?: string;
  /** The tool called, ≤ 200 characters. */
  tool?: string;
  promptTokens?: number;
  completionTokens?: number;
  /** Wall time of the call in milliseconds. */
  latencyMs?: number;
}

/** A hold of one tenant. */
export interface BudgetHoldRef {
  tenantId: string;
  holdId: string;
}

/**
 * Budgets that block before the money is spent. Before a billable call the caller places a hold
 * for its worst case against every budget that applies, atomically (all or none); afterwards it
 * settles the hold with the actual cost (posted; the rest released) or releases it whole. A hold
 * never settled (the caller crashed) expires after its TTL. Total posted + open holds never
 * exceed a budget's limit, whatever the concurrency. Implemented by the billing domain.
 */
export interface BudgetGuard {
  /** Places the hold, or says which budget refused it. Nothing is stored when refused. */
  hold(request: BudgetHoldRequest): Promise<BudgetHoldResult>;
  /**
   * Posts `actualMicros` (capped at the hold's amount: a hold is the most a call may cost) and
   * releases the rest. Settling a hold that is no longer OPEN changes nothing and returns it as
   * it is (a retried settle never charges twice; an EXPIRED hold posts nothing). The settlement
   * that posts writes the call's usage record (`usage`, the cost, the hold's subjects and purpose).
   * @throws BudgetHoldNotFound
   */
  settle(ref: BudgetHoldRef, actualMicros: number, usage?: BudgetUsage): Promise<BudgetHold>;
  /** Releases the whole hold (the call was not made). Like settle, a no-op on a closed hold. @throws BudgetHoldNotFound */
  release(ref: BudgetHoldRef): Promise<BudgetHold>;
}

/** The hold does not exist in the tenant (never placed, or another tenant's): retrying cannot help. */
export class BudgetHoldNotFound extends Error {
  override name = 'BudgetHoldNotFound';
}

/** A retried hold named an idempotency key already used for a different amount. */
export class BudgetHoldConflict extends Error {
  override name = 'BudgetHoldConflict';
}
