import { randomUUID } from 'node:crypto';
import type { SqlDatabase, SqlExecutor, WorkflowContext } from '@somaagent/ports';
import { PgliteSqlDatabase } from '@somaagent/postgres';
import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../tests/support/postgres';
import { JournalWorkflowEngine, workflowsMigrations } from '../src/index';

/**
 * The journal engine's tenant scope (migration 002_tenant_scope) on both databases: executions
 * written before the migration take the tenant their input names and resume; one without a
 * tenant is left to the owner; new ones need a tenant; each tenant's scope sees its own rows only.
 */
type Database = SqlDatabase & { asOwner<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> };

const adapters: [string, () => Promise<Database>][] = [
  ['PGlite', () => PgliteSqlDatabase.open()],
  ['PostgreSQL server', () => createTestDatabase()],
];

const double = (ctx: WorkflowContext, input: { x: number }) =>
  ctx.activity<number>('double', 'double', input.x, { startToCloseTimeoutMs: 5_000 });

describe.each(adapters)('journal engine tenant scope on %s', (_name, open) => {
  it('upgrades old executions, refuses tenant-less starts and keeps each tenant to its rows', async () => {
    await using db = await open();
    const [first, ...rest] = workflowsMigrations;
    expect(first?.version).toBe(1);
    await db.migrate([first!]);
    const tenantA = randomUUID();
    const tenantB = randomUUID();
    await db.asOwner((tx) =>
      tx.query(
        `INSERT INTO workflows.executions (workflow_id, workflow_type, input) VALUES
           ('old-a', 'double', $1), ('old-none', 'double', '{"x": 5}')`,
        [JSON.stringify({ tenantId: tenantA, x: 21 })],
      ),
    );
    await db.migrate([first!, ...rest]);

    await using engine = new JournalWorkflowEngine(db, {
      workflows: { double: double as never },
      activities: { double: (async (x: number) => x * 2) as never },
      pollMs: 50,
    }).startWorker();
    expect(await engine.result('old-a')).toBe(42);
    await expect(engine.describe('old-none')).rejects.toMatchObject({ code: 'ERR_WORKFLOW_NOT_FOUND' });

    await expect(engine.start('double', 'no-tenant', { x: 1 })).rejects.toThrow(/has no tenant/);
    await engine.start('double', 'new-b', { tenantId: tenantB, x: 4 });
    expect(await engine.result('new-b')).toBe(8);

    const seen = (tenantId: string | null) =>
      db.withScope({ tenantId }, async (tx) => ({
        executions: (
          await tx.query<{ workflow_id: string }>('SELECT workflow_id FROM workflows.executions ORDER BY 1')
        ).rows.map((r) => r.workflow_id),
        journal: (
          await tx.query<{ workflow_id: string }>('SELECT workflow_id FROM workflows.journal ORDER BY 1')
        ).rows.map((r) => r.workflow_id),
      }));
    expect(await seen(tenantA)).toEqual({ executions: ['old-a'], journal: ['old-a'] });
    expect(await seen(tenantB)).toEqual({ executions: ['new-b'], journal: ['new-b'] });
    expect(await seen(null)).toEqual({ executions: [], journal: [] });

    // tenantOf: a workflow whose input carries its tenant elsewhere.
    await using other = new JournalWorkflowEngine(db, {
      workflows: { double: double as never },
      activities: { double: (async (x: number) => x * 2) as never },
      tenantOf: (_type, input) => (input as { owner: string }).owner,
    });
    await other.start('double', 'owned', { owner: tenantA, x: 1 });
    expect((await seen(tenantA)).executions).toEqual(['old-a', 'owned']);
  });
});
