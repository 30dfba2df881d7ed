import { SomaError } from '@somaagent/errors';
import {
  type BudgetGuard,
  type BudgetHold,
  BudgetHoldConflict,
  BudgetHoldNotFound,
  type BudgetHoldRef,
  type BudgetHoldRequest,
  type BudgetHoldResult,
  type BudgetRefusal,
  type BudgetUsage,
  type SqlDatabase,
  type SqlExecutor,
} from '@somaagent/ports';
import { BUDGET_COLUMNS, type BudgetRow, HOLD_COLUMNS, type HoldRow } from './BudgetRows';
import { currentPeriodStart, dayStart, monthStart, nextReset } from './periods';

/** The largest single hold, 10^12 micro-dollars (one million dollars). */
export const MAX_HOLD_MICROS = 1_000_000_000_000;
export const DEFAULT_HOLD_TTL_SECONDS = 600;
const MAX_HOLD_TTL_SECONDS = 86_400;
/** Expired holds swept per statement; the next hold or sweep takes the rest. */
const EXPIRE_BATCH = 200;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface BudgetLedgerOptions {
  /**
   * The ledger's clock: hold expiry and period resets are decided against it (one clock for a
   * whole statement, passed as a parameter, so tests can move time).
   * @default () => new Date()
   */
  clock?: () => Date;
  /** Called after a settlement that recorded usage has committed (the outbox relay's kick). */
  onUsageRecorded?: () => void;
}

/** The event each usage record publishes (through billing.outbox). */
export const USAGE_TOPIC = 'billing.usage';
export const USAGE_EVENT = 'usage.recorded';

/**
 * The budget ledger (implements the `budgetGuard` port). Every operation is one transaction of
 * the hold's tenant that first locks the budget rows it will change, in id order, with one
 * `SELECT … ORDER BY id FOR UPDATE`; only then does it read counters and lock hold rows. Two
 * operations therefore never wait on each other in a cycle, and a check made under those locks
 * still holds when the counters are written: posted + held ≤ limit for every budget, on PGlite
 * (one connection) and on the PostgreSQL server (READ COMMITTED, any number of connections).
 */
export class BudgetLedger implements BudgetGuard {
  private readonly clock: () => Date;
  private readonly onUsageRecorded: () => void;

  constructor(
    private readonly db: SqlDatabase,
    options: BudgetLedgerOptions = {},
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.onUsageRecorded = options.onUsageRecorded ?? (() => undefined);
  }

  async hold(request: BudgetHoldRequest): Promise<BudgetHoldResult> {
    const checked = checkHoldRequest(request);
    try {
      return await this.placeHold(checked);
    } catch (error) {
      // Two first attempts with one key raced where no budget row serialised them: the loser
      // finds the winner's hold on its second attempt.
      if ((error as { code?: string }).code !== '23505') throw error;
      return this.placeHold(checked);
    }
  }

  private placeHold(request: Required<Omit<BudgetHoldRequest, 'purpose'>> & { purpose: string | null }) {
    const now = this.clock();
    return this.db.withScope({ tenantId: request.tenantId }, async (tx): Promise<BudgetHoldResult> => {
      const s = request.subjects;
      const applicable = (
        await tx.query<{ id: string }>(
          `SELECT id FROM billing.budgets
            WHERE scope = 'TENANT'
               OR (scope = 'USER' AND scope_id = $1) OR (scope = 'API_KEY' AND scope_id = $2)
               OR (scope = 'PERSONA' AND scope_id = $3) OR (scope = 'CAPSULE' AND scope_id = $4)
               OR (scope = 'PROJECT' AND scope_id = $5)`,
          [
            s.userId ?? null,
            s.apiKeyId ?? null,
            s.personaId ?? null,
            s.capsuleId ?? null,
            s.projectId ?? null,
          ],
          { name: 'billing.applicable' },
        )
      ).rows.map((r) => r.id);

      await this.lockAndExpire(tx, applicable, now);

      const existing = await holdByKey(tx, request.idempotencyKey);
      if (existing) {
        if (existing.amount_micros !== request.amountMicros) {
          throw new BudgetHoldConflict(
            `idempotency key "${request.idempotencyKey}" already holds ${existing.amount_micros} micro-dollars, not ${request.amountMicros}`,
          );
        }
        return { ok: true, hold: toHold(request.tenantId, existing) };
      }

      // A budget deleted since the first SELECT is gone from here: the hold skips it.
      const budgets = await lockedBudgets(tx, applicable);
      const ids = budgets.map((b) => b.id);
      for (const b of budgets) {
        const posted = effectivePosted(b, now);
        if (posted + b.held_micros + request.amountMicros > b.limit_micros)
          return { ok: false, refusal: refusal(b, posted, request.amountMicros, now) };
      }
      if (ids.length > 0) {
        // The WHERE repeats the check: belt and braces, the rows are locked since lockAndExpire.
        const { rowCount } = await tx.query(
          `UPDATE billing.budgets SET ${ROLL}, held_micros = held_micros + $4
            WHERE id = ANY($1::uuid[]) AND ${POSTED_NOW} + held_micros + $4 <= limit_micros`,
          [uuids(ids), dayStart(now), monthStart(now), request.amountMicros],
          { name: 'billing.hold' },
        );
        if (rowCount !== ids.length) throw new Error('billing: a locked budget changed under its lock');
      }
      const { rows } = await tx.query<HoldRow>(
        `INSERT INTO billing.holds (tenant_id, idempotency_key, budget_ids, subjects, purpose, amount_micros, created_at, expires_at)
         VALUES (current_setting('soma.tenant_id')::uuid, $1, $2::uuid[], $3::jsonb, $4, $5, $6, $7)
         RETURNING ${HOLD_COLUMNS}`,
        [
          request.idempotencyKey,
          uuids(ids),
          JSON.stringify(s),
          request.purpose,
          request.amountMicros,
          now,
          new Date(now.getTime() + request.ttlSeconds * 1000),
        ],
      );
      return { ok: true, hold: toHold(request.tenantId, rows[0]!) };
    });
  }

  async settle(ref: BudgetHoldRef, actualMicros: number, usage: BudgetUsage = {}): Promise<BudgetHold> {
    if (!Number.isSafeInteger(actualMicros) || actualMicros < 0) {
      throw new SomaError('BAD_USER_INPUT', 'actualMicros must be an integer ≥ 0 (micro-dollars)', {
        field: 'actualMicros',
      });
    }
    const closed = await this.close(ref, actualMicros, 'SETTLED', checkUsage(usage));
    if (closed.recorded) this.onUsageRecorded();
    return closed.hold;
  }

  async release(ref: BudgetHoldRef): Promise<BudgetHold> {
    return (await this.close(ref, 0, 'RELEASED', {})).hold;
  }

  /**
   * Expires the tenant's open holds whose time is up (up to 200 per call) and returns how many.
   * Holds also expire on their own when a later hold or settle meets them; this is for sweeps.
   */
  expireDue(tenantId: string): Promise<number> {
    if (!UUID.test(tenantId)) return Promise.resolve(0);
    const now = this.clock();
    return this.db.withScope({ tenantId }, async (tx) => {
      const due = await tx.query<{ id: string; budget_ids: string[] }>(
        `SELECT id, budget_ids::text[] AS budget_ids FROM billing.holds
          WHERE state = 'OPEN' AND expires_at <= $1 ORDER BY expires_at LIMIT ${EXPIRE_BATCH}`,
        [now],
      );
      if (due.rows.length === 0) return 0;
      await lockBudgets(tx, [...new Set(due.rows.flatMap((h) => h.budget_ids))]);
      return expire(
        tx,
        due.rows.map((h) => h.id),
        now,
      );
    });
  }

  /** Settles or releases one hold; a closed hold comes back unchanged. */
  private close(
    ref: BudgetHoldRef,
    actualMicros: number,
    state: 'SETTLED' | 'RELEASED',
    usage: BudgetUsage,
  ): Promise<{ hold: BudgetHold; recorded: boolean }> {
    if (!UUID.test(ref.holdId) || !UUID.test(ref.tenantId))
      return Promise.reject(new BudgetHoldNotFound(`no hold ${ref.holdId.slice(0, 40)}`));
    const now = this.clock();
    let recorded = false;
    const closed = this.db.withScope({ tenantId: ref.tenantId }, async (tx) => {
      const found = await tx.query<{ budget_ids: string[] }>(
        'SELECT budget_ids::text[] AS budget_ids FROM billing.holds WHERE id = $1',
        [ref.holdId],
      );
      if (!found.rows[0]) throw new BudgetHoldNotFound(`no hold ${ref.holdId} in this tenant`);
      // A hold's budgets never change: lock them first, like every other operation.
      await lockBudgets(tx, found.rows[0].budget_ids);
      const hold = (
        await tx.query<HoldRow>(`SELECT ${HOLD_COLUMNS} FROM billing.holds WHERE id = $1 FOR UPDATE`, [
          ref.holdId,
        ])
      ).rows[0]!;
      if (hold.state !== 'OPEN') return toHold(ref.tenantId, hold);
      if (hold.expires_at.getTime() <= now.getTime()) {
        await expire(tx, [hold.id], now);
      } else {
        const posted = Math.min(actualMicros, hold.amount_micros);
        await tx.query(
          `UPDATE billing.holds SET state = $2, posted_micros = $3, released_micros = amount_micros - $3, closed_at = $4
            WHERE id = $1`,
          [hold.id, state, posted, now],
        );
        // Spend lands in the period it is settled in; held carried over from the last period
        // already counted against this one, so posted + held stays ≤ limit across a reset.
        await tx.query(
          `UPDATE billing.budgets SET period_start = ${PERIOD_NOW}, posted_micros = ${POSTED_NOW} + $4, held_micros = held_micros - $5
            WHERE id = ANY($1::uuid[])`,
          [uuids(hold.budget_ids), dayStart(now), monthStart(now), posted, hold.amount_micros],
          { name: 'billing.settle' },
        );
        if (state === 'SETTLED') {
          await recordUsage(tx, hold.id, posted, usage, now);
          recorded = true;
        }
      }
      return toHold(
        ref.tenantId,
        (await tx.query<HoldRow>(`SELECT ${HOLD_COLUMNS} FROM billing.holds WHERE id = $1`, [ref.holdId]))
          .rows[0]!,
      );
    });
    return closed.then((hold) => ({ hold, recorded }));
  }

  /**
   * Locks the budgets a hold will touch plus those of the expired holds that share one of them,
   * all in one ordered statement, then expires those holds (their amounts return to the budgets).
   */
  private async lockAndExpire(tx: SqlExecutor, budgetIds: string[], now: Date): Promise<void> {
    if (budgetIds.length === 0) return;
    const due = await tx.query<{ id: string; budget_ids: string[] }>(
      `SELECT id, budget_ids::text[] AS budget_ids FROM billing.holds
        WHERE state = 'OPEN' AND expires_at <= $1 AND budget_ids && $2::uuid[] LIMIT ${EXPIRE_BATCH}`,
      [now, uuids(budgetIds)],
      { name: 'billing.due' },
    );
    await lockBudgets(tx, [...new Set([...budgetIds, ...due.rows.flatMap((h) => h.budget_ids)])]);
    if (due.rows.length > 0)
      await expire(
        tx,
        due.rows.map((h) => h.id),
        now,
      );
  }
}

/** Period start of the row as of `$2` (day) / `$3` (month), in SQL; TOTAL budgets keep theirs. */
const PERIOD_NOW = `GREATEST(period_start, CASE period WHEN 'DAY' THEN $2::timestamptz WHEN 'MONTH' THEN $3::timestamptz ELSE period_start END)`;
/** Posted in the current period: 0 when the period has moved on since the row's period_start. */
const POSTED_NOW = `(CASE WHEN ${PERIOD_NOW} > period_start THEN 0 ELSE posted_micros END)`;
/** Moves the row into the current period, keeping what it posted in it. */
const ROLL = `period_start = ${PERIOD_NOW}, posted_micros = ${POSTED_NOW}`;

/** A PostgreSQL array literal of uuids (validated ones only), so named statements take it as text. */
const uuids = (ids: readonly string[]): string => `{${ids.join(',')}}`;

async function lockBudgets(tx: SqlExecutor, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await tx.query(
    'SELECT id FROM billing.budgets WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE',
    [uuids(ids)],
    {
      name: 'billing.lock',
    },
  );
}

async function lockedBudgets(tx: SqlExecutor, ids: string[]): Promise<BudgetRow[]> {
  if (ids.length === 0) return [];
  return (
    await tx.query<BudgetRow>(
      `SELECT ${BUDGET_COLUMNS} FROM billing.budgets WHERE id = ANY($1::uuid[]) ORDER BY id`,
      [uuids(ids)],
    )
  ).rows;
}

/** Expires the listed holds still OPEN (the caller holds their budgets' locks); returns how many. */
async function expire(tx: SqlExecutor, holdIds: string[], now: Date): Promise<number> {
  const { rows } = await tx.query<{ n: number }>(
    `WITH expired AS (
       UPDATE billing.holds SET state = 'EXPIRED', released_micros = amount_micros, closed_at = $2
        WHERE id = ANY($1::uuid[]) AND state = 'OPEN'
       RETURNING amount_micros, budget_ids),
     per_budget AS (
       SELECT b AS id, sum(amount_micros) AS amount FROM expired, unnest(budget_ids) AS b GROUP BY b),
     returned AS (
       UPDATE billing.budgets SET held_micros = held_micros - per_budget.amount
         FROM per_budget WHERE billing.budgets.id = per_budget.id RETURNING 1)
     SELECT (SELECT count(*) FROM expired)::int AS n`,
    [uuids(holdIds), now],
    { name: 'billing.expire' },
  );
  return rows[0]?.n ?? 0;
}

/**
 * The call's usage record and its `billing.usage` event, in the settlement's transaction: one
 * statement, so a record never exists without its event nor the other way round.
 */
async function recordUsage(tx: SqlExecutor, holdId: string, cost: number, u: BudgetUsage, now: Date) {
  await tx.query(
    `WITH u AS (
       INSERT INTO billing.usage_records (hold_id, tenant_id, budget_ids, subjects, purpose, model, tool,
                                          prompt_tokens, completion_tokens, latency_ms, cost_micros, created_at)
       SELECT id, tenant_id, budget_ids, subjects, purpose, $2, $3, $4, $5, $6, $7, $8 FROM billing.holds WHERE id = $1
       RETURNING *)
     INSERT INTO billing.outbox (tenant_id, topic, type, payload)
     SELECT tenant_id, '${USAGE_TOPIC}', '${USAGE_EVENT}', jsonb_build_object(
              'holdId', hold_id, 'costMicros', cost_micros, 'budgetIds', budget_ids, 'subjects', subjects,
              'purpose', purpose, 'model', model, 'tool', tool, 'promptTokens', prompt_tokens,
              'completionTokens', completion_tokens, 'latencyMs', latency_ms,
              'recordedAt', ${`to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`})
       FROM u`,
    [
      holdId,
      u.model ?? null,
      u.tool ?? null,
      u.promptTokens ?? null,
      u.completionTokens ?? null,
      u.latencyMs ?? null,
      cost,
      now,
    ],
    { name: 'billing.usage' },
  );
}

function checkUsage(u: BudgetUsage): BudgetUsage {
  const bad = (field: string, message: string) => new SomaError('BAD_USER_INPUT', message, { field });
  for (const key of ['model', 'tool'] as const) {
    const v = u[key];
    if (v !== undefined && (typeof v !== 'string' || v.length < 1 || v.length > 200))
      throw bad(`usage.${key}`, `usage.${key} must be 1..200 characters`);
  }
  for (const key of ['promptTokens', 'completionTokens', 'latencyMs'] as const) {
    const v = u[key];
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 2_147_483_647))
      throw bad(`usage.${key}`, `usage.${key} must be an integer ≥ 0`);
  }
  return u;
}

async function holdByKey(tx: SqlExecutor, key: string): Promise<HoldRow | null> {
  const { rows } = await tx.query<HoldRow>(
    `SELECT ${HOLD_COLUMNS} FROM billing.holds WHERE idempotency_key = $1`,
    [key],
    {
      name: 'billing.holdByKey',
    },
  );
  return rows[0] ?? null;
}

/** What the row has posted in the period `now` falls in (0 once that period has moved on). */
export function effectivePosted(b: BudgetRow, now: Date): number {
  return currentPeriodStart(b.period, now, b.period_start).getTime() > b.period_start.getTime()
    ? 0
    : b.posted_micros;
}

function refusal(b: BudgetRow, posted: number, requested: number, now: Date): BudgetRefusal {
  return {
    budgetId: b.id,
    scope: b.scope,
    scopeId: b.scope_id,
    limitMicros: b.limit_micros,
    remainingMicros: Math.max(0, b.limit_micros - posted - b.held_micros),
    requestedMicros: requested,
    resetsAt: nextReset(b.period, now)?.toISOString() ?? null,
  };
}

function toHold(tenantId: string, row: HoldRow): BudgetHold {
  return {
    tenantId,
    holdId: row.id,
    idempotencyKey: row.idempotency_key,
    state: row.state,
    amountMicros: row.amount_micros,
    postedMicros: row.posted_micros,
    releasedMicros: row.released_micros,
    budgetIds: row.budget_ids,
    expiresAt: row.expires_at.toISOString(),
  };
}

const SUBJECT_KEYS = ['userId', 'apiKeyId', 'personaId', 'capsuleId', 'projectId'] as const;

function checkHoldRequest(r: BudgetHoldRequest) {
  const bad = (field: string, message: string) => new SomaError('BAD_USER_INPUT', message, { field });
  if (typeof r.tenantId !== 'string' || !UUID.test(r.tenantId))
    throw bad('tenantId', 'tenantId must be a UUID');
  if (!Number.isSafeInteger(r.amountMicros) || r.amountMicros < 1 || r.amountMicros > MAX_HOLD_MICROS)
    throw bad(
      'amountMicros',
      `amountMicros must be an integer between 1 and ${MAX_HOLD_MICROS} (micro-dollars)`,
    );
  if (typeof r.idempotencyKey !== 'string' || r.idempotencyKey.length < 1 || r.idempotencyKey.length > 200)
    throw bad('idempotencyKey', 'idempotencyKey must be 1..200 characters');
  const ttlSeconds = r.ttlSeconds ?? DEFAULT_HOLD_TTL_SECONDS;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_HOLD_TTL_SECONDS)
    throw bad('ttlSeconds', `ttlSeconds must be an integer between 1 and ${MAX_HOLD_TTL_SECONDS}`);
  if (r.purpose !== undefined && (typeof r.purpose !== 'string' || r.purpose.length > 200))
    throw bad('purpose', 'purpose must be at most 200 characters');
  const subjects: Record<string, string> = {};
  for (const key of SUBJECT_KEYS) {
    const v = r.subjects?.[key];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v.length < 1 || v.length > 200)
      throw bad(`subjects.${key}`, `subjects.${key} must be 1..200 characters`);
    subjects[key] = v;
  }
  return {
    tenantId: r.tenantId,
    subjects,
    amountMicros: r.amountMicros,
    idempotencyKey: r.idempotencyKey,
    ttlSeconds,
    purpose: r.purpose ?? null,
  };
}
