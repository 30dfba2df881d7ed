import { SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import { pageArgs } from '@somaagent/pagination';
import type { BudgetScope, SqlDatabase, SqlExecutor } from '@somaagent/ports';
import {
  BUDGET_COLUMNS,
  BUDGET_PERIODS,
  BUDGET_SCOPES,
  type BudgetPeriod,
  type BudgetRow,
} from './BudgetRows';
import { type Caller, requireCaller, requireMember } from './capabilities';
import { currentPeriodStart } from './periods';

/** The largest budget limit, 10^15 micro-dollars (one billion dollars): larger is a typo. */
export const MAX_LIMIT_MICROS = 1_000_000_000_000_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface CreateBudgetInput {
  scope: string;
  scopeId?: string | null;
  period: string;
  limitMicros: number;
  alertThresholds?: readonly number[] | null;
}

export interface UpdateBudgetInput {
  /** The version the edit was made on; a stale one is CONFLICT. */
  expectedVersion: number;
  limitMicros?: number | null;
  alertThresholds?: readonly number[] | null;
}

const notFound = (id: string) =>
  new SomaError('NOT_FOUND', `no budget ${id.slice(0, 40)} in this tenant`, { field: 'id' });
const bad = (field: string, message: string) => new SomaError('BAD_USER_INPUT', message, { field });

/**
 * Budgets as tenant administrators manage them through the graph, and as users see their own.
 * Another tenant's budget is NOT_FOUND exactly like a missing one (row-level security hides it).
 */
export class BudgetAdmin {
  constructor(
    private readonly db: SqlDatabase,
    private readonly clock: () => Date,
  ) {}

  private scoped<T>(caller: Caller, work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.db.withScope({ tenantId: caller.tenantId }, work);
  }

  async create(claims: VerifiedClaims | null, input: CreateBudgetInput): Promise<BudgetRow> {
    const caller = requireCaller(claims, 'billing:budgets:write');
    const scope = checkScope(input.scope);
    const period = checkPeriod(input.period);
    const scopeId = checkScopeId(scope, input.scopeId);
    const limit = checkLimit(input.limitMicros);
    const thresholds = checkThresholds(input.alertThresholds ?? []);
    const now = this.clock();
    try {
      return await this.scoped(caller, async (tx) => {
        const { rows } = await tx.query<BudgetRow>(
          `INSERT INTO billing.budgets (tenant_id, scope, scope_id, period, limit_micros, alert_thresholds, period_start, created_by)
           VALUES (current_setting('soma.tenant_id')::uuid, $1, $2, $3, $4, $5::integer[], $6, $7)
           RETURNING ${BUDGET_COLUMNS}`,
          [
            scope,
            scopeId,
            period,
            limit,
            `{${thresholds.join(',')}}`,
            period === 'TOTAL' ? now : currentPeriodStart(period, now, new Date(0)),
            caller.subject,
          ],
        );
        return rows[0]!;
      });
    } catch (error) {
      if ((error as { code?: string }).code === '23505') {
        throw new SomaError(
          'CONFLICT',
          `a ${period} budget for ${scope}${scopeId ? ` "${scopeId.slice(0, 40)}"` : ''} already exists: update it instead`,
          { field: 'scope' },
        );
      }
      throw error;
    }
  }

  async update(claims: VerifiedClaims | null, id: string, input: UpdateBudgetInput): Promise<BudgetRow> {
    const caller = requireCaller(claims, 'billing:budgets:write');
    if (!UUID.test(id)) throw notFound(id);
    if (!Number.isInteger(input.expectedVersion) || input.expectedVersion < 1)
      throw bad(
        'expectedVersion',
        'expectedVersion must be the budget version (an integer ≥ 1) the edit was made on',
      );
    const limit = input.limitMicros == null ? null : checkLimit(input.limitMicros);
    const thresholds = input.alertThresholds == null ? null : checkThresholds(input.alertThresholds);
    return this.scoped(caller, async (tx) => {
      const { rows } = await tx.query<BudgetRow>(
        `UPDATE billing.budgets
            SET limit_micros = coalesce($3, limit_micros),
                alert_thresholds = coalesce($4::integer[], alert_thresholds),
                version = version + 1, updated_at = clock_timestamp()
          WHERE id = $1 AND version = $2
          RETURNING ${BUDGET_COLUMNS}`,
        [id, input.expectedVersion, limit, thresholds ? `{${thresholds.join(',')}}` : null],
      );
      if (rows[0]) return rows[0];
      throw await this.missingOrStale(tx, id, input.expectedVersion);
    });
  }

  /** Deletes the budget; open holds on it are then settled against the remaining budgets only. */
  async delete(claims: VerifiedClaims | null, id: string, expectedVersion: number | null): Promise<string> {
    const caller = requireCaller(claims, 'billing:budgets:write');
    if (!UUID.test(id)) throw notFound(id);
    return this.scoped(caller, async (tx) => {
      const { rowCount } = await tx.query(
        'DELETE FROM billing.budgets WHERE id = $1 AND ($2::integer IS NULL OR version = $2)',
        [id, expectedVersion],
      );
      if (rowCount === 1) return id;
      throw await this.missingOrStale(tx, id, expectedVersion ?? 0);
    });
  }

  /**
   * The rows with holds past their TTL left out of `held_micros`: such holds no longer count (the
   * next hold or settle on the budget expires them for good), so a reader sees what really remains.
   */
  private async withoutStaleHolds(tx: SqlExecutor, rows: BudgetRow[]): Promise<BudgetRow[]> {
    if (rows.length === 0) return rows;
    const { rows: stale } = await tx.query<{ id: string; amount: number }>(
      `SELECT b::text AS id, sum(amount_micros)::float8 AS amount FROM billing.holds, unnest(budget_ids) AS b
        WHERE state = 'OPEN' AND expires_at <= $1 GROUP BY b`,
      [this.clock()],
    );
    if (stale.length === 0) return rows;
    const byId = new Map(stale.map((r) => [r.id, r.amount]));
    return rows.map((r) => ({ ...r, held_micros: r.held_micros - (byId.get(r.id) ?? 0) }));
  }

  private async missingOrStale(tx: SqlExecutor, id: string, expected: number): Promise<SomaError> {
    const { rows } = await tx.query<{ version: number }>(
      'SELECT version FROM billing.budgets WHERE id = $1',
      [id],
    );
    if (!rows[0]) return notFound(id);
    return new SomaError(
      'CONFLICT',
      `budget ${id} is at version ${rows[0].version}, not ${expected}: someone else changed it; read it again and retry`,
      { field: 'expectedVersion', currentVersion: rows[0].version },
    );
  }

  async get(claims: VerifiedClaims | null, id: string): Promise<BudgetRow> {
    const caller = requireCaller(claims, 'billing:budgets:read');
    if (!UUID.test(id)) throw notFound(id);
    const row = await this.scoped(caller, async (tx) => {
      const { rows } = await tx.query<BudgetRow>(
        `SELECT ${BUDGET_COLUMNS} FROM billing.budgets WHERE id = $1`,
        [id],
      );
      return (await this.withoutStaleHolds(tx, rows))[0];
    });
    if (!row) throw notFound(id);
    return row;
  }

  async byId(claims: VerifiedClaims | null, id: string): Promise<BudgetRow | null> {
    try {
      return await this.get(claims, id);
    } catch (error) {
      if (error instanceof SomaError && error.code === 'NOT_FOUND') return null;
      throw error;
    }
  }

  /** The tenant's budgets, newest first, optionally of one scope. */
  async list(
    claims: VerifiedClaims | null,
    args: { first?: number | null; after?: string | null; scope?: string | null },
  ): Promise<{ rows: BudgetRow[]; first: number; total: number }> {
    const caller = requireCaller(claims, 'billing:budgets:read');
    const { first, after } = pageArgs(args);
    const scope = args.scope == null ? null : checkScope(args.scope);
    return this.scoped(caller, async (tx) => {
      const { rows } = await tx.query<BudgetRow>(
        `SELECT ${BUDGET_COLUMNS} FROM billing.budgets
          WHERE ($1::text IS NULL OR scope = $1)
            AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
          ORDER BY created_at DESC, id DESC LIMIT $4`,
        [scope, after?.createdAt ?? null, after?.id ?? null, first + 1],
      );
      const total = await tx.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM billing.budgets WHERE ($1::text IS NULL OR scope = $1)',
        [scope],
      );
      return { rows: await this.withoutStaleHolds(tx, rows), first, total: total.rows[0]?.n ?? 0 };
    });
  }

  /**
   * The budgets that apply to the caller's own calls: the tenant's and the caller's own (USER
   * for a signed-in user, API_KEY for an API key's token). Any member of the tenant may ask.
   */
  async mine(claims: VerifiedClaims | null): Promise<BudgetRow[]> {
    const caller = requireMember(claims);
    const ownScope: BudgetScope = claims?.authMethod === 'api_key' ? 'API_KEY' : 'USER';
    return this.scoped(caller, async (tx) => {
      const { rows } = await tx.query<BudgetRow>(
        `SELECT ${BUDGET_COLUMNS} FROM billing.budgets
          WHERE scope = 'TENANT' OR (scope = $1 AND scope_id = $2)
          ORDER BY scope = 'TENANT', period, id`,
        [ownScope, caller.subject],
      );
      return this.withoutStaleHolds(tx, rows);
    });
  }
}

function checkScope(scope: string): BudgetScope {
  if (!(BUDGET_SCOPES as readonly string[]).includes(scope))
    throw bad('scope', `scope must be one of ${BUDGET_SCOPES.join(', ')}`);
  return scope as BudgetScope;
}

function checkPeriod(period: string): BudgetPeriod {
  if (!(BUDGET_PERIODS as readonly string[]).includes(period))
    throw bad('period', `period must be one of ${BUDGET_PERIODS.join(', ')}`);
  return period as BudgetPeriod;
}

function checkScopeId(scope: BudgetScope, scopeId: string | null | undefined): string {
  if (scope === 'TENANT') {
    if (scopeId) throw bad('scopeId', 'a TENANT budget covers the whole tenant: leave scopeId out');
    return '';
  }
  if (typeof scopeId !== 'string' || scopeId.length < 1 || scopeId.length > 200)
    throw bad(
      'scopeId',
      `a ${scope} budget needs scopeId, the ${scope.toLowerCase()} id (1..200 characters)`,
    );
  return scopeId;
}

function checkLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 0 || limit > MAX_LIMIT_MICROS)
    throw bad(
      'limitMicros',
      `limitMicros must be an integer between 0 and ${MAX_LIMIT_MICROS} (micro-dollars; 1 USD = 1000000)`,
    );
  return limit;
}

function checkThresholds(thresholds: readonly number[]): number[] {
  if (thresholds.length > 10) throw bad('alertThresholds', 'at most 10 alert thresholds');
  for (const t of thresholds) {
    if (!Number.isInteger(t) || t < 1 || t > 100)
      throw bad('alertThresholds', 'alert thresholds are percentages of the limit, integers 1..100');
  }
  return [...new Set(thresholds)].sort((a, b) => a - b);
}
