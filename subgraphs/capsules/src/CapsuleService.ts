import { randomUUID } from 'node:crypto';
import {
  type ApprovalDecision,
  allSteps,
  approvalSignal,
  CAPSULE_RUN_WORKFLOW,
  type CapsuleDefinition,
  type CapsuleRunInput,
  runStream,
} from '@somaagent/capsule-contract';
import { clip, SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import { type Connection, pageArgs, toConnection } from '@somaagent/pagination';
import { PolicyEngineUnavailable, type PolicyEvaluator } from '@somaagent/policy';
import type { ObjectStorage, SqlDatabase, SqlExecutor, StreamLog, WorkflowEngine } from '@somaagent/ports';
import { type Caller, holds, requireCaller } from './capabilities';
import {
  type CapsuleModel,
  type CapsuleRow,
  type CapsuleRunEventModel,
  type CapsuleRunModel,
  type RunRow,
  toCapsule,
  toRun,
} from './models';
import {
  type DefinitionProblem,
  parseCapsuleDefinition,
  sourcePosition,
  validateInputs,
} from './parseCapsuleDefinition';

export interface CapsulesLimits {
  /** @default 200_000 characters */
  maxSourceChars: number;
  /** How often a subscription looks at the database when no live event woke it (runs executed by another process). @default 1000 */
  eventPollMs: number;
}
export const DEFAULT_CAPSULES_LIMITS: CapsulesLimits = { maxSourceChars: 200_000, eventPollMs: 1000 };

const CAPSULE_COLUMNS = `id, name, version, description, source, definition, created_by, created_at, created_at::text AS cursor_ts`;
const RUN_COLUMNS = `id, capsule_id, status, inputs, output, error, engine, started_by, last_sequence, created_at, updated_at, finished_at, created_at::text AS cursor_ts`;
const TERMINAL_EVENTS = new Set(['RUN_COMPLETED', 'RUN_FAILED', 'RUN_CANCELLED']);

const semver = (v: string) => v.split('.').map(Number) as [number, number, number];
const compareSemver = (a: string, b: string) => {
  const [x, y] = [semver(a), semver(b)];
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
};

function invalidDefinition(problems: DefinitionProblem[]): SomaError {
  const first = problems[0]!;
  const where = `${first.path || '(document)'}${first.line ? ` (line ${first.line}, column ${first.column})` : ''}`;
  return new SomaError(
    'BAD_USER_INPUT',
    `capsule definition is invalid: ${where}: ${first.message}${problems.length > 1 ? ` (and ${problems.length - 1} more problems)` : ''}; see capsuleDefinitionSchema`,
    { reason: 'INVALID_DEFINITION', field: 'source', problems },
  );
}

/**
 * The capsules domain: definitions (versioned per tenant), runs started on the WorkflowEngine
 * port, their step history, approvals, artifacts and live events. Every database access runs in
 * `db.withScope` for the caller's tenant (FORCE RLS).
 */
export class CapsuleService {
  constructor(
    private readonly db: SqlDatabase,
    private readonly engine: WorkflowEngine,
    private readonly storage: ObjectStorage,
    private readonly streams: StreamLog,
    private readonly limits: CapsulesLimits = DEFAULT_CAPSULES_LIMITS,
    /** Checks the policy names a definition lists; without one they are not checked at publish time (runs still deny what they cannot check). */
    private readonly policy?: Pick<PolicyEvaluator, 'evaluate'>,
  ) {}

  private scope<T>(caller: Caller, work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.db.withScope({ tenantId: caller.tenantId }, work);
  }

  // ------------------------------------------------------------------------------------------
  // definitions

  private parse(source: string): CapsuleDefinition {
    if (source.length > this.limits.maxSourceChars) {
      throw new SomaError(
        'BAD_USER_INPUT',
        `source is longer than ${this.limits.maxSourceChars} characters`,
        {
          reason: 'INVALID_DEFINITION',
          field: 'source',
        },
      );
    }
    const parsed = parseCapsuleDefinition(source);
    if (!parsed.ok) throw invalidDefinition(parsed.problems);
    return parsed.definition;
  }

  /**
   * Every name under `policies` must be a policy the engine knows. There is no list of names
   * outside the Rego (policies/somaagent/authz: `known_policies`), so the engine is asked: an
   * unknown name is denied with the reason `no policy named "…"`. Asked of the evaluator, not the
   * audited decider: this checks a name, it decides nothing about anyone.
   */
  private async checkPolicyNames(definition: CapsuleDefinition, source: string): Promise<void> {
    if (!this.policy) return;
    const problems: DefinitionProblem[] = [];
    for (const [i, name] of (definition.policies ?? []).entries()) {
      let reasons: string[];
      try {
        ({ reasons } = await this.policy.evaluate({ policy: name, subject: null }));
      } catch (error) {
        if (!(error instanceof PolicyEngineUnavailable)) throw error;
        throw new SomaError(
          'UNAVAILABLE',
          `the policy engine could not check the policy names of this capsule (${error.message}); try again`,
          { reason: 'POLICY_UNAVAILABLE' },
        );
      }
      if (reasons.some((r) => r.startsWith('no policy named'))) {
        const path = `/policies/${i}`;
        problems.push({
          path,
          ...sourcePosition(source, path),
          message: `policies[${i}]: no policy named "${clip(name)}"; use a rule of policies/somaagent/authz (e.g. "tenant.member", "platform.admin")`,
        });
      }
    }
    if (problems.length) {
      const first = problems[0]!;
      throw new SomaError(
        'BAD_USER_INPUT',
        `capsule definition names an unknown policy: ${first.message}${first.line ? ` (line ${first.line}, column ${first.column})` : ''}`,
        { reason: 'UNKNOWN_POLICY', field: 'source', problems },
      );
    }
  }

  /** Sub-capsule references must name published versions. */
  private async checkReferences(tx: SqlExecutor, definition: CapsuleDefinition): Promise<void> {
    for (const step of allSteps(definition.steps)) {
      if (step.kind !== 'capsule') continue;
      const { rows } = await tx.query('SELECT 1 FROM capsules.capsules WHERE name = $1 AND version = $2', [
        step.capsule,
        step.version,
      ]);
      if (!rows[0]) {
        throw new SomaError(
          'BAD_USER_INPUT',
          `step "${clip(step.id)}" uses capsule ${clip(step.capsule)}@${clip(step.version)}, which is not published in this tenant: publish it first`,
          { reason: 'UNKNOWN_CAPSULE', field: 'source', stepId: step.id },
        );
      }
    }
  }

  private async insertCapsule(
    tx: SqlExecutor,
    caller: Caller,
    definition: CapsuleDefinition,
    source: string,
  ) {
    const [major, minor, patch] = semver(definition.version);
    const { rows } = await tx.query<CapsuleRow>(
      `INSERT INTO capsules.capsules (tenant_id, name, version, major, minor, patch, description, definition, source, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${CAPSULE_COLUMNS}`,
      [
        caller.tenantId,
        definition.name,
        definition.version,
        major,
        minor,
        patch,
        definition.description ?? null,
        JSON.stringify(definition),
        source,
        caller.subject,
      ],
    );
    return toCapsule(rows[0]!);
  }

  async createCapsule(claims: VerifiedClaims | null, source: string): Promise<CapsuleModel> {
    const caller = requireCaller(claims, 'capsules:write');
    const definition = this.parse(source);
    await this.checkPolicyNames(definition, source);
    return this.scope(caller, async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext('capsules:' || $1 || ':' || $2))`, [
        caller.tenantId,
        definition.name,
      ]);
      const { rows } = await tx.query('SELECT 1 FROM capsules.capsules WHERE name = $1 LIMIT 1', [
        definition.name,
      ]);
      if (rows[0]) {
        throw new SomaError(
          'CONFLICT',
          `capsule "${definition.name}" already exists: publish a new version with updateCapsule`,
          { reason: 'CAPSULE_EXISTS', name: definition.name },
        );
      }
      await this.checkReferences(tx, definition);
      return this.insertCapsule(tx, caller, definition, source);
    });
  }

  async updateCapsule(claims: VerifiedClaims | null, source: string): Promise<CapsuleModel> {
    const caller = requireCaller(claims, 'capsules:write');
    const definition = this.parse(source);
    await this.checkPolicyNames(definition, source);
    return this.scope(caller, async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext('capsules:' || $1 || ':' || $2))`, [
        caller.tenantId,
        definition.name,
      ]);
      const { rows } = await tx.query<{ version: string }>(
        'SELECT version FROM capsules.capsules WHERE name = $1 ORDER BY major DESC, minor DESC, patch DESC LIMIT 1',
        [definition.name],
      );
      if (!rows[0]) {
        throw new SomaError(
          'NOT_FOUND',
          `capsule "${definition.name}" does not exist: create it with createCapsule`,
          {
            reason: 'UNKNOWN_CAPSULE',
            name: definition.name,
          },
        );
      }
      if (compareSemver(definition.version, rows[0].version) <= 0) {
        throw new SomaError(
          'CONFLICT',
          `version ${definition.version} is not higher than the published ${rows[0].version}: versions are immutable, bump it`,
          { reason: 'VERSION_NOT_HIGHER', latest: rows[0].version },
        );
      }
      await this.checkReferences(tx, definition);
      return this.insertCapsule(tx, caller, definition, source);
    });
  }

  async capsules(
    claims: VerifiedClaims | null,
    args: { first?: number | null; after?: string | null; name?: string | null },
  ): Promise<Connection<CapsuleModel>> {
    const caller = requireCaller(claims, 'capsules:read');
    const { first, after } = pageArgs(args);
    return this.scope(caller, async (tx) => {
      const params: unknown[] = [args.name ?? null];
      let where = '($1::text IS NULL OR name = $1)';
      if (after) {
        params.push(after.createdAt, after.id);
        where += ' AND (created_at, id) < ($2::timestamptz, $3::uuid)';
      }
      const { rows } = await tx.query<CapsuleRow>(
        `SELECT ${CAPSULE_COLUMNS} FROM capsules.capsules WHERE ${where} ORDER BY created_at DESC, id DESC LIMIT ${first + 1}`,
        params,
      );
      const total = await tx.query<{ n: string }>(
        'SELECT count(*) AS n FROM capsules.capsules WHERE ($1::text IS NULL OR name = $1)',
        [args.name ?? null],
      );
      return toConnection(rows, first, Number(total.rows[0]!.n), toCapsule);
    });
  }

  private async findCapsule(tx: SqlExecutor, name: string, version?: string | null): Promise<CapsuleModel> {
    // Names and versions are short by definition; a longer one cannot name a capsule.
    if (name.length > 63 || (version?.length ?? 0) > 64) {
      throw new SomaError(
        'BAD_USER_INPUT',
        'a capsule name has at most 63 characters and a version at most 64',
        {
          field: name.length > 63 ? 'name' : 'version',
        },
      );
    }
    const { rows } = await tx.query<CapsuleRow>(
      `SELECT ${CAPSULE_COLUMNS} FROM capsules.capsules WHERE name = $1 AND ($2::text IS NULL OR version = $2)
        ORDER BY major DESC, minor DESC, patch DESC LIMIT 1`,
      [name, version ?? null],
    );
    if (!rows[0]) {
      throw new SomaError(
        'NOT_FOUND',
        version ? `capsule ${clip(name)}@${clip(version)} not found` : `capsule "${clip(name)}" not found`,
        { reason: 'UNKNOWN_CAPSULE', name: clip(name), ...(version ? { version: clip(version) } : {}) },
      );
    }
    return toCapsule(rows[0]);
  }

  async capsule(claims: VerifiedClaims | null, name: string, version?: string | null): Promise<CapsuleModel> {
    const caller = requireCaller(claims, 'capsules:read');
    return this.scope(caller, (tx) => this.findCapsule(tx, name, version));
  }

  async capsuleById(claims: VerifiedClaims | null, id: string): Promise<CapsuleModel | null> {
    const caller = requireCaller(claims, 'capsules:read');
    return this.scope(caller, async (tx) => {
      const { rows } = await tx.query<CapsuleRow>(
        `SELECT ${CAPSULE_COLUMNS} FROM capsules.capsules WHERE id = $1`,
        [id],
      );
      return rows[0] ? toCapsule(rows[0]) : null;
    });
  }

  // ------------------------------------------------------------------------------------------
  // runs

  async startRun(
    claims: VerifiedClaims | null,
    input: { name: string; version?: string | null; inputs?: unknown },
  ): Promise<CapsuleRunModel> {
    const caller = requireCaller(claims, 'capsules:run');
    const inputs = (input.inputs ?? {}) as Record<string, unknown>;
    const runId = randomUUID();
    const { run, workflowInput } = await this.scope(caller, async (tx) => {
      const capsule = await this.findCapsule(tx, input.name, input.version);
      const checked = validateInputs(capsule.definition.inputs, inputs);
      if (!checked.ok) {
        const first = checked.problems[0]!;
        throw new SomaError(
          'BAD_USER_INPUT',
          `inputs do not match the inputs schema of ${capsule.name}@${capsule.version}: ${first.path || '(inputs)'} ${first.message}`,
          { reason: 'INVALID_INPUTS', field: 'inputs', problems: checked.problems },
        );
      }
      const missing = capsule.capabilities.filter((c) => !holds(caller, c));
      if (missing.length) {
        throw new SomaError(
          'FORBIDDEN',
          `capsule ${capsule.name}@${capsule.version} requires capabilities ${missing.map((c) => `"${c}"`).join(', ')}`,
          { reason: 'MISSING_CAPABILITY', capabilities: missing },
        );
      }
      // Sub-capsules are resolved now, transitively, so the workflow itself stays deterministic.
      const capsules: Record<string, CapsuleDefinition> = {};
      const pending = [capsule.definition];
      while (pending.length) {
        for (const step of allSteps(pending.pop()!.steps)) {
          if (step.kind !== 'capsule' || capsules[`${step.capsule}@${step.version}`]) continue;
          const child = await this.findCapsule(tx, step.capsule, step.version);
          capsules[`${step.capsule}@${step.version}`] = child.definition;
          pending.push(child.definition);
        }
      }
      // Who started the run, as the policy engine sees them: every step is checked as this
      // subject, and memory-recall steps search what they may see (workers/src/activities.ts).
      const startedAs = {
        subject: claims!.subject,
        tenantId: claims!.tenantId,
        roles: claims!.roles,
        capabilities: claims!.capabilities,
        platformAdmin: claims!.platformAdmin,
        authMethod: claims!.authMethod,
        issuer: claims!.issuer,
      };
      const { rows } = await tx.query<RunRow>(
        `INSERT INTO capsules.runs (id, tenant_id, capsule_id, inputs, engine, started_by, started_as)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${RUN_COLUMNS}`,
        [
          runId,
          caller.tenantId,
          capsule.id,
          JSON.stringify(inputs),
          this.engine.kind,
          caller.subject,
          JSON.stringify(startedAs),
        ],
      );
      const workflowInput: CapsuleRunInput = {
        tenantId: caller.tenantId,
        runId,
        definition: capsule.definition,
        inputs,
        capsules,
      };
      return { run: toRun(rows[0]!), workflowInput };
    });
    try {
      await this.engine.start(CAPSULE_RUN_WORKFLOW, runId, workflowInput);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await this.scope(caller, (tx) =>
        tx.query(
          `UPDATE capsules.runs SET status = 'FAILED', error = $2, finished_at = clock_timestamp() WHERE id = $1`,
          [runId, `the workflow engine did not accept the run: ${message}`],
        ),
      );
      throw new SomaError(
        'UNAVAILABLE',
        `the workflow engine (${this.engine.kind}) did not accept the run; try again`,
        {
          runId,
        },
      );
    }
    return run;
  }

  /**
   * The run if it is the caller's tenant's; NOT_FOUND otherwise. Another tenant's run answers
   * exactly like a missing one, so no answer tells that an id exists elsewhere.
   */
  private async loadRun(tx: SqlExecutor, id: string): Promise<CapsuleRunModel> {
    const missing = () => new SomaError('NOT_FOUND', `capsule run ${clip(id)} not found`, { field: 'id' });
    if (!/^[0-9a-f-]{36}$/i.test(id)) throw missing();
    const { rows } = await tx.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM capsules.runs WHERE id = $1`, [id]);
    if (rows[0]) return toRun(rows[0]);
    throw missing();
  }

  async run(claims: VerifiedClaims | null, id: string): Promise<CapsuleRunModel> {
    const caller = requireCaller(claims, 'capsules:read');
    return this.scope(caller, (tx) => this.loadRun(tx, id));
  }

  async runs(
    claims: VerifiedClaims | null,
    args: { first?: number | null; after?: string | null; status?: string | null },
  ): Promise<Connection<CapsuleRunModel>> {
    const caller = requireCaller(claims, 'capsules:read');
    const { first, after } = pageArgs(args);
    return this.scope(caller, async (tx) => {
      const params: unknown[] = [args.status ?? null];
      let where = '($1::text IS NULL OR status = $1)';
      if (after) {
        params.push(after.createdAt, after.id);
        where += ' AND (created_at, id) < ($2::timestamptz, $3::uuid)';
      }
      const { rows } = await tx.query<RunRow>(
        `SELECT ${RUN_COLUMNS} FROM capsules.runs WHERE ${where} ORDER BY created_at DESC, id DESC LIMIT ${first + 1}`,
        params,
      );
      const total = await tx.query<{ n: string }>(
        'SELECT count(*) AS n FROM capsules.runs WHERE ($1::text IS NULL OR status = $1)',
        [args.status ?? null],
      );
      return toConnection(rows, first, Number(total.rows[0]!.n), toRun);
    });
  }

  async steps(claims: VerifiedClaims | null, runId: string) {
    const caller = requireCaller(claims, 'capsules:read');
    return this.scope(caller, async (tx) => {
      const { rows } = await tx.query<{
        step_key: string;
        kind: string;
        status: string;
        attempts: number;
        detail: unknown;
        output: unknown;
        error: string | null;
        started_at: Date | string;
        updated_at: Date | string;
      }>('SELECT * FROM capsules.run_steps WHERE run_id = $1 ORDER BY started_at, step_key', [runId]);
      return rows.map((r) => ({
        key: r.step_key,
        kind: r.kind,
        status: r.status as 'RUNNING',
        attempts: r.attempts,
        detail: r.detail,
        output: r.output,
        error: r.error,
        startedAt: new Date(r.started_at).toISOString(),
        updatedAt: new Date(r.updated_at).toISOString(),
      }));
    });
  }

  async artifacts(claims: VerifiedClaims | null, runId: string, expiresInSeconds: number) {
    const caller = requireCaller(claims, 'capsules:read');
    if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > 86_400) {
      throw new SomaError('BAD_USER_INPUT', 'expiresInSeconds must be between 1 and 86400', {
        field: 'expiresInSeconds',
      });
    }
    const rows = await this.scope(caller, async (tx) => {
      const r = await tx.query<{
        id: string;
        step_key: string;
        name: string;
        object_key: string;
        content_type: string;
        size: string;
        created_at: Date | string;
      }>('SELECT * FROM capsules.artifacts WHERE run_id = $1 ORDER BY created_at, step_key', [runId]);
      return r.rows;
    });
    const expiresAt = new Date(Date.now() + expiresInSeconds * 1000).toISOString();
    return Promise.all(
      rows.map(async (r) => ({
        id: r.id,
        stepKey: r.step_key,
        name: r.name,
        contentType: r.content_type,
        size: Number(r.size),
        downloadUrl: await this.storage.presignedGetUrl(r.object_key, expiresInSeconds, {
          contentType: r.content_type,
          filename: r.name,
        }),
        urlExpiresAt: expiresAt,
        createdAt: new Date(r.created_at).toISOString(),
      })),
    );
  }

  async cancelRun(claims: VerifiedClaims | null, id: string): Promise<CapsuleRunModel> {
    const caller = requireCaller(claims, 'capsules:run');
    const run = await this.scope(caller, (tx) => this.loadRun(tx, id));
    if (run.status !== 'RUNNING' && run.status !== 'AWAITING_APPROVAL') {
      throw new SomaError('CONFLICT', `capsule run ${id} already ended (${run.status})`, {
        reason: 'RUN_FINISHED',
        status: run.status,
      });
    }
    await this.engine.cancel(id);
    return run;
  }

  async decide(
    claims: VerifiedClaims | null,
    input: { runId: string; stepKey: string; comment?: string | null },
    approved: boolean,
  ): Promise<CapsuleRunModel> {
    const caller = requireCaller(claims, 'capsules:approve');
    if (input.stepKey.length > 500)
      throw new SomaError('BAD_USER_INPUT', 'stepKey has at most 500 characters', { field: 'stepKey' });
    if ((input.comment?.length ?? 0) > 4000)
      throw new SomaError('BAD_USER_INPUT', 'comment has at most 4000 characters', { field: 'comment' });
    const run = await this.scope(caller, async (tx) => {
      const r = await this.loadRun(tx, input.runId);
      const { rows } = await tx.query<{ status: string; kind: string }>(
        'SELECT status, kind FROM capsules.run_steps WHERE run_id = $1 AND step_key = $2',
        [input.runId, input.stepKey],
      );
      if (rows[0]?.status !== 'AWAITING_APPROVAL') {
        throw new SomaError(
          'CONFLICT',
          rows[0]
            ? `step "${clip(input.stepKey)}" of run ${input.runId} is not waiting for approval (it is ${rows[0].status})`
            : `step "${clip(input.stepKey)}" of run ${input.runId} is not waiting for approval (it has not been reached, or is not an approval step)`,
          {
            reason: 'STEP_NOT_AWAITING',
            stepKey: clip(input.stepKey),
            ...(rows[0] ? { status: rows[0].status } : {}),
          },
        );
      }
      return r;
    });
    const decision: ApprovalDecision = {
      approved,
      by: caller.subject,
      ...(input.comment ? { comment: input.comment } : {}),
    };
    await this.engine.signal(input.runId, approvalSignal(input.stepKey), decision);
    return run;
  }

  // ------------------------------------------------------------------------------------------
  // live events

  /** The run's events after `afterSequence` (from the database), then live; ends after the run's last event. */
  async events(
    claims: VerifiedClaims | null,
    runId: string,
    afterSequence: number,
  ): Promise<AsyncGenerator<CapsuleRunEventModel>> {
    const caller = requireCaller(claims, 'capsules:read');
    await this.scope(caller, (tx) => this.loadRun(tx, runId));
    if (!Number.isInteger(afterSequence) || afterSequence < 0) {
      throw new SomaError('BAD_USER_INPUT', 'afterSequence must be a non-negative integer', {
        field: 'afterSequence',
      });
    }
    return this.follow(caller, runId, afterSequence);
  }

  private async *follow(
    caller: Caller,
    runId: string,
    afterSequence: number,
  ): AsyncGenerator<CapsuleRunEventModel> {
    const abort = new AbortController();
    // The StreamLog only wakes this loop; the database is the record, so resuming works after
    // any restart and for runs executed by another process (then the poll interval applies).
    const stream = runStream(runId);
    const live = this.streams.subscribe(stream, await this.streams.lastSequence(stream), abort.signal);
    let wake = live.next();
    let last = afterSequence;
    try {
      for (;;) {
        const { rows } = await this.scope(caller, (tx) =>
          tx.query<{
            sequence: string;
            type: CapsuleRunEventModel['type'];
            step_key: string | null;
            payload: unknown;
            at: Date | string;
          }>(
            'SELECT sequence, type, step_key, payload, at FROM capsules.run_events WHERE run_id = $1 AND sequence > $2 ORDER BY sequence LIMIT 200',
            [runId, last],
          ),
        );
        for (const r of rows) {
          last = Number(r.sequence);
          yield {
            sequence: last,
            runId,
            type: r.type,
            stepKey: r.step_key,
            payload: r.payload,
            occurredAt: new Date(r.at).toISOString(),
          };
          if (TERMINAL_EVENTS.has(r.type)) return;
        }
        if (rows.length === 200) continue;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          wake.then(() => {
            wake = live.next();
          }),
          new Promise((r) => {
            timer = setTimeout(r, this.limits.eventPollMs);
          }),
        ]);
        clearTimeout(timer);
      }
    } finally {
      abort.abort();
      await live.return?.(undefined);
    }
  }
}
