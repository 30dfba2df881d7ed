import type { CapsuleDefinition } from '@somaagent/capsule-contract';
import type { Cursor } from '@somaagent/pagination';
import type { SqlDatabase, SqlExecutor } from '@somaagent/ports';
import type { Caller } from './capabilities';
import type { CapsuleRow, CapsuleRunEventModel, RunRow } from './models';

const CAPSULE_COLUMNS = `id, name, version, description, source, definition, created_by, created_at, created_at::text AS cursor_ts`;
const RUN_COLUMNS = `id, capsule_id, status, inputs, output, error, engine, started_by, last_sequence, created_at, updated_at, finished_at, created_at::text AS cursor_ts`;

export const semver = (v: string) => v.split('.').map(Number) as [number, number, number];

/** A page of rows (one more than asked, to tell whether there is a next page) and the total. */
export interface RowPage<Row> {
  rows: Row[];
  total: number;
}

export interface StepRow {
  step_key: string;
  kind: string;
  status: string;
  attempts: number;
  detail: unknown;
  output: unknown;
  error: string | null;
  started_at: Date | string;
  updated_at: Date | string;
}

export interface ArtifactRow {
  id: string;
  step_key: string;
  name: string;
  object_key: string;
  content_type: string;
  size: string;
  created_at: Date | string;
}

export interface EventRow {
  sequence: string;
  type: CapsuleRunEventModel['type'];
  step_key: string | null;
  payload: unknown;
  at: Date | string;
}

/**
 * The rows and SQL of the capsules subgraph's own reads and writes (definitions, starting a
 * run, its steps, artifacts and events); the run workers' writes are SqlCapsuleRunStore. Every
 * method takes the transaction `inTenant` opened for the caller's tenant (FORCE RLS).
 */
export class CapsuleStore {
  constructor(private readonly db: SqlDatabase) {}

  inTenant<T>(caller: Caller, work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.db.withScope({ tenantId: caller.tenantId }, work);
  }

  // ------------------------------------------------------------------------------------------
  // definitions

  /** Serialises publications of one capsule name until the transaction ends. */
  async lockName(tx: SqlExecutor, tenantId: string, name: string): Promise<void> {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext('capsules:' || $1 || ':' || $2))`, [
      tenantId,
      name,
    ]);
  }

  async nameExists(tx: SqlExecutor, name: string): Promise<boolean> {
    const { rows } = await tx.query('SELECT 1 FROM capsules.capsules WHERE name = $1 LIMIT 1', [name]);
    return rows.length > 0;
  }

  async latestVersion(tx: SqlExecutor, name: string): Promise<string | null> {
    const { rows } = await tx.query<{ version: string }>(
      'SELECT version FROM capsules.capsules WHERE name = $1 ORDER BY major DESC, minor DESC, patch DESC LIMIT 1',
      [name],
    );
    return rows[0]?.version ?? null;
  }

  async isPublished(tx: SqlExecutor, name: string, version: string): Promise<boolean> {
    const { rows } = await tx.query('SELECT 1 FROM capsules.capsules WHERE name = $1 AND version = $2', [
      name,
      version,
    ]);
    return rows.length > 0;
  }

  async insertCapsule(
    tx: SqlExecutor,
    caller: Caller,
    definition: CapsuleDefinition,
    source: string,
  ): Promise<CapsuleRow> {
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
    return rows[0]!;
  }

  /** Newest first; `name` filters to one capsule's versions. */
  async pageCapsules(
    tx: SqlExecutor,
    name: string | null,
    first: number,
    after: Cursor | null,
  ): Promise<RowPage<CapsuleRow>> {
    const params: unknown[] = [name];
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
      [name],
    );
    return { rows, total: Number(total.rows[0]!.n) };
  }

  /** That version, or the highest one when `version` is null. */
  async findCapsule(tx: SqlExecutor, name: string, version: string | null): Promise<CapsuleRow | null> {
    const { rows } = await tx.query<CapsuleRow>(
      `SELECT ${CAPSULE_COLUMNS} FROM capsules.capsules WHERE name = $1 AND ($2::text IS NULL OR version = $2)
        ORDER BY major DESC, minor DESC, patch DESC LIMIT 1`,
      [name, version],
    );
    return rows[0] ?? null;
  }

  async capsuleById(tx: SqlExecutor, id: string): Promise<CapsuleRow | null> {
    const { rows } = await tx.query<CapsuleRow>(
      `SELECT ${CAPSULE_COLUMNS} FROM capsules.capsules WHERE id = $1`,
      [id],
    );
    return rows[0] ?? null;
  }

  // ------------------------------------------------------------------------------------------
  // runs

  async insertRun(
    tx: SqlExecutor,
    run: {
      id: string;
      tenantId: string;
      capsuleId: string;
      inputs: unknown;
      engine: string;
      startedBy: string;
      startedAs: unknown;
    },
  ): Promise<RunRow> {
    const { rows } = await tx.query<RunRow>(
      `INSERT INTO capsules.runs (id, tenant_id, capsule_id, inputs, engine, started_by, started_as)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${RUN_COLUMNS}`,
      [
        run.id,
        run.tenantId,
        run.capsuleId,
        JSON.stringify(run.inputs),
        run.engine,
        run.startedBy,
        JSON.stringify(run.startedAs),
      ],
    );
    return rows[0]!;
  }

  /** The run ends FAILED before it began (the workflow engine refused it). */
  async failUnstartedRun(tx: SqlExecutor, id: string, error: string): Promise<void> {
    await tx.query(
      `UPDATE capsules.runs SET status = 'FAILED', error = $2, finished_at = clock_timestamp() WHERE id = $1`,
      [id, error],
    );
  }

  async runById(tx: SqlExecutor, id: string): Promise<RunRow | null> {
    const { rows } = await tx.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM capsules.runs WHERE id = $1`, [id]);
    return rows[0] ?? null;
  }

  /** Newest first; `status` filters. */
  async pageRuns(
    tx: SqlExecutor,
    status: string | null,
    first: number,
    after: Cursor | null,
  ): Promise<RowPage<RunRow>> {
    const params: unknown[] = [status];
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
      [status],
    );
    return { rows, total: Number(total.rows[0]!.n) };
  }

  async steps(tx: SqlExecutor, runId: string): Promise<StepRow[]> {
    const { rows } = await tx.query<StepRow>(
      'SELECT * FROM capsules.run_steps WHERE run_id = $1 ORDER BY started_at, step_key',
      [runId],
    );
    return rows;
  }

  async stepState(
    tx: SqlExecutor,
    runId: string,
    stepKey: string,
  ): Promise<{ status: string; kind: string } | null> {
    const { rows } = await tx.query<{ status: string; kind: string }>(
      'SELECT status, kind FROM capsules.run_steps WHERE run_id = $1 AND step_key = $2',
      [runId, stepKey],
    );
    return rows[0] ?? null;
  }

  async artifacts(tx: SqlExecutor, runId: string): Promise<ArtifactRow[]> {
    const { rows } = await tx.query<ArtifactRow>(
      'SELECT * FROM capsules.artifacts WHERE run_id = $1 ORDER BY created_at, step_key',
      [runId],
    );
    return rows;
  }

  /** At most `limit` events after `afterSequence`, in order. */
  async eventsAfter(
    tx: SqlExecutor,
    runId: string,
    afterSequence: number,
    limit: number,
  ): Promise<EventRow[]> {
    const { rows } = await tx.query<EventRow>(
      `SELECT sequence, type, step_key, payload, at FROM capsules.run_events WHERE run_id = $1 AND sequence > $2 ORDER BY sequence LIMIT ${limit}`,
      [runId, afterSequence],
    );
    return rows;
  }
}
