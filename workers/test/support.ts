import { randomUUID } from 'node:crypto';
import type { CapsuleDefinition } from '@somaagent/capsule-contract';
import type { SqlDatabase } from '@somaagent/ports';
import type { CapsuleRunInput } from '../src/capsuleRunWorkflow';

/** Inserts a capsule and a RUNNING run for it (what CapsuleService.startRun does) and returns the workflow input. */
export async function seedRun(
  db: SqlDatabase,
  tenantId: string,
  definition: CapsuleDefinition,
  inputs: Record<string, unknown> = {},
  capsules: Record<string, CapsuleDefinition> = {},
  engine = 'test',
  /** capsules.runs.started_as: who started the run, as the policy sees them (none: NULL). */
  startedAs: Record<string, unknown> | null = null,
): Promise<CapsuleRunInput> {
  const runId = randomUUID();
  await db.withScope({ tenantId }, async (tx) => {
    const [major, minor, patch] = definition.version.split('.').map(Number);
    await tx.query(
      `INSERT INTO capsules.capsules (tenant_id, name, version, major, minor, patch, definition, source, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'test') ON CONFLICT (tenant_id, name, version) DO NOTHING`,
      [
        tenantId,
        definition.name,
        definition.version,
        major,
        minor,
        patch,
        JSON.stringify(definition),
        JSON.stringify(definition),
      ],
    );
    const { rows } = await tx.query<{ id: string }>(
      'SELECT id FROM capsules.capsules WHERE name = $1 AND version = $2',
      [definition.name, definition.version],
    );
    await tx.query(
      `INSERT INTO capsules.runs (id, tenant_id, capsule_id, inputs, engine, started_by, started_as) VALUES ($1, $2, $3, $4, $5, 'test', $6)`,
      [
        runId,
        tenantId,
        rows[0]!.id,
        JSON.stringify(inputs),
        engine,
        startedAs ? JSON.stringify(startedAs) : null,
      ],
    );
  });
  return { tenantId, runId, definition, inputs, capsules };
}

export async function runRow(db: SqlDatabase, tenantId: string, runId: string) {
  return db.withScope({ tenantId }, async (tx) => {
    const run = (
      await tx.query<{ status: string; error: string | null; output: unknown }>(
        'SELECT status, error, output FROM capsules.runs WHERE id = $1',
        [runId],
      )
    ).rows[0]!;
    const steps = (
      await tx.query<{ step_key: string; status: string; attempts: number }>(
        'SELECT step_key, status, attempts FROM capsules.run_steps WHERE run_id = $1 ORDER BY started_at, step_key',
        [runId],
      )
    ).rows;
    const events = (
      await tx.query<{ sequence: string; type: string; step_key: string | null }>(
        'SELECT sequence, type, step_key FROM capsules.run_events WHERE run_id = $1 ORDER BY sequence',
        [runId],
      )
    ).rows;
    const attempts = (
      await tx.query<{ step_key: string; attempt: number; at: Date }>(
        'SELECT step_key, attempt, at FROM capsules.step_attempts WHERE run_id = $1 ORDER BY id',
        [runId],
      )
    ).rows;
    const invocations = (
      await tx.query<{ step_key: string }>(
        'SELECT step_key FROM capsules.tool_invocations WHERE run_id = $1 ORDER BY step_key',
        [runId],
      )
    ).rows;
    return { ...run, steps, events, attempts, invocations };
  });
}

export async function until<T>(
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const step = (
  id: string,
  tool: string,
  args: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
) => ({ id, kind: 'toolCall', tool, args, ...extra }) as CapsuleDefinition['steps'][number];
