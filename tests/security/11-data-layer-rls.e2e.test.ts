import type { SqlDatabase, SqlExecutor } from '@somaagent/ports';
import { PgliteSqlDatabase } from '@somaagent/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../support/platform';

/**
 * Issue 14 item 11, defence in depth in the data layer: after every migration the platform
 * applies, each table the application role `soma_app` can touch in any way is under FORCE row-level
 * security with a tenant policy; the rest are out of its reach. The embedded workflow engine's
 * tables (`workflows.*`) are included: a real capsule run of two tenants leaves rows there, and
 * each tenant's scope sees only its own.
 */
interface TableState {
  table: string;
  kind: string;
  rls: boolean;
  forced: boolean;
  privileges: string[];
  /** Policies that apply to soma_app (PUBLIC or soma_app), as `name: USING | WITH CHECK`. */
  policies: string[];
}

const LIST_TABLES = `
  SELECT n.nspname || '.' || c.relname AS table,
         c.relkind::text AS kind,
         c.relrowsecurity AS rls,
         c.relforcerowsecurity AS forced,
         array_remove(ARRAY[
           CASE WHEN has_any_column_privilege('soma_app', c.oid, 'SELECT') THEN 'SELECT' END,
           CASE WHEN has_any_column_privilege('soma_app', c.oid, 'INSERT') THEN 'INSERT' END,
           CASE WHEN has_any_column_privilege('soma_app', c.oid, 'UPDATE') THEN 'UPDATE' END,
           CASE WHEN has_table_privilege('soma_app', c.oid, 'DELETE') THEN 'DELETE' END,
           CASE WHEN has_table_privilege('soma_app', c.oid, 'TRUNCATE') THEN 'TRUNCATE' END,
           CASE WHEN has_table_privilege('soma_app', c.oid, 'REFERENCES') THEN 'REFERENCES' END,
           CASE WHEN has_table_privilege('soma_app', c.oid, 'TRIGGER') THEN 'TRIGGER' END
         ], NULL) AS privileges,
         coalesce((
           SELECT array_agg(p.polname || ': ' || coalesce(pg_get_expr(p.polqual, p.polrelid), '-') || ' | '
                            || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '-') ORDER BY p.polname)
             FROM pg_policy p
            WHERE p.polrelid = c.oid
              AND (0 = ANY (p.polroles) OR (SELECT oid FROM pg_roles WHERE rolname = 'soma_app') = ANY (p.polroles))
         ), ARRAY[]::text[]) AS policies
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
     AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
   ORDER BY 1`;

/**
 * Tables with no tenant by nature that the request path must reach, each with the reason. Any
 * other table soma_app can touch without a tenant policy fails the test.
 */
const PLATFORM_WIDE: Record<string, string> = {
  // Every tenant's tokens are signed by one issuer, and signing happens in the request path
  // (signIn, exchangeApiKey). The private keys are sealed (AES-256-GCM under signingKeySecret),
  // so a reader of the table learns public keys and ciphertext only.
  'identity.signing_keys': 'the platform token-signing keys (private halves sealed)',
};

const ECHO = `name: echo-rls
version: 1.0.0
inputs: { type: object, required: [word], properties: { word: { type: string } } }
steps:
  - { id: echo, kind: toolCall, tool: soma.echo, args: { text: "{{inputs.word}}" } }
outputs: { text: "{{steps.echo.output.text}}" }
`;

/** The database the platform runs on, with the owner's view for the listing. */
type Database = SqlDatabase & { asOwner<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> };

describe.each([
  ['the PostgreSQL server', async (_t: TestPlatform): Promise<Database | undefined> => undefined],
  ['PGlite (embedded)', async (): Promise<Database | undefined> => PgliteSqlDatabase.open()],
] as const)(
  '11 data layer on %s: every table soma_app can touch is tenant-scoped under FORCE RLS',
  (where, open) => {
    let t: TestPlatform;
    let db: Database;
    let a: Awaited<ReturnType<TestPlatform['createTenant']>>;
    let b: Awaited<ReturnType<TestPlatform['createTenant']>>;
    let own: Database | undefined;

    beforeAll(async () => {
      own = await open(undefined as never);
      // The platform applies all of its migrations to the database it is given.
      t = await startTestPlatform(own ? { db: own } : {});
      db = own ?? t.db;
      const prefix = where.startsWith('PGlite') ? 'rls-lite' : 'rls';
      a = await t.createTenant(`${prefix}-a`);
      b = await t.createTenant(`${prefix}-b`);
    }, 180_000);
    afterAll(async () => {
      await t?.[Symbol.asyncDispose]();
      await own?.[Symbol.asyncDispose]();
    });

    it('lists every table and its RLS state; the app role reaches none without a tenant policy', async () => {
      const tables = await db.asOwner(async (tx) => (await tx.query<TableState>(LIST_TABLES)).rows);
      const reachable = tables.filter((row) => row.privileges.length > 0);
      console.log(
        `${where}: tables after all platform migrations (${tables.length}; soma_app reaches ${reachable.length}):\n${tables
          .map(
            (row) =>
              `  ${row.table.padEnd(34)} kind=${row.kind} rls=${row.rls} force=${row.forced} soma_app=[${row.privileges.join(',') || 'none'}]\n${row.policies.map((p) => `      policy ${p}`).join('\n')}`,
          )
          .join('\n')}`,
      );
      expect(tables.map((row) => row.table)).toEqual(
        expect.arrayContaining(['workflows.executions', 'workflows.journal', 'workflows.signals']),
      );
      const problems: string[] = [];
      for (const row of reachable) {
        if (PLATFORM_WIDE[row.table]) {
          if (row.privileges.some((p) => p !== 'SELECT' && p !== 'INSERT' && p !== 'UPDATE'))
            problems.push(`${row.table}: platform-wide, but soma_app may ${row.privileges.join(',')}`);
          continue;
        }
        // TRUNCATE ignores row-level security, and a view runs as its owner.
        if (row.privileges.includes('TRUNCATE')) problems.push(`${row.table}: soma_app may TRUNCATE`);
        if (row.kind !== 'r' && row.kind !== 'p')
          problems.push(`${row.table}: soma_app reaches a ${row.kind}`);
        if (!row.rls || !row.forced)
          problems.push(`${row.table}: RLS enabled=${row.rls} forced=${row.forced}`);
        if (row.policies.length === 0) problems.push(`${row.table}: no policy applies to soma_app`);
        for (const policy of row.policies) {
          if (!/soma\.tenant_id|soma\.platform_admin/.test(policy))
            problems.push(`${row.table}: policy ${policy} is not keyed on the tenant scope`);
        }
      }
      expect(problems).toEqual([]);
      expect(reachable.filter((row) => !row.forced).map((row) => row.table)).toEqual(
        Object.keys(PLATFORM_WIDE),
      );

      const role = await db.asOwner(
        async (tx) =>
          (
            await tx.query<{ rolbypassrls: boolean; rolsuper: boolean; owns: number }>(
              `SELECT r.rolbypassrls, r.rolsuper,
                    (SELECT count(*)::int FROM pg_class c WHERE c.relowner = r.oid) AS owns
               FROM pg_roles r WHERE r.rolname = 'soma_app'`,
            )
          ).rows[0],
      );
      expect(role).toEqual({ rolbypassrls: false, rolsuper: false, owns: 0 });
    });

    it("a capsule run's workflow rows are visible in its own tenant's scope only", async () => {
      const run = async (tenant: typeof a, word: string) => {
        const created = await t.gql(
          'mutation($s: String!) { createCapsule(source: $s) { id } }',
          { s: ECHO },
          tenant.adminToken,
        );
        expect(created.errors).toBeUndefined();
        const started = await t.gql(
          'mutation($i: StartCapsuleRunInput!) { startCapsuleRun(input: $i) { id } }',
          { i: { name: 'echo-rls', inputs: { word } } },
          tenant.adminToken,
        );
        expect(started.errors).toBeUndefined();
        const id = started.data.startCapsuleRun.id as string;
        for (let i = 0; i < 200; i++) {
          const got = await t.gql(
            'query($id: ID!) { capsuleRun(id: $id) { status output } }',
            { id },
            tenant.adminToken,
          );
          if (got.data?.capsuleRun?.status === 'COMPLETED') {
            expect(got.data.capsuleRun.output).toEqual({ text: word });
            return id;
          }
          await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error(`run ${id} did not complete`);
      };
      const runA = await run(a, 'alpha');
      const runB = await run(b, 'bravo');

      const seen = (tenantId: string | null) =>
        db.withScope({ tenantId }, async (tx) => ({
          executions: (
            await tx.query<{ workflow_id: string }>('SELECT workflow_id FROM workflows.executions ORDER BY 1')
          ).rows.map((r) => r.workflow_id),
          journal: (
            await tx.query<{ workflow_id: string }>(
              'SELECT DISTINCT workflow_id FROM workflows.journal ORDER BY 1',
            )
          ).rows.map((r) => r.workflow_id),
        }));
      expect(await seen(a.tenantId)).toEqual({ executions: [runA], journal: [runA] });
      expect(await seen(b.tenantId)).toEqual({ executions: [runB], journal: [runB] });
      expect(await seen(null)).toEqual({ executions: [], journal: [] });
      // A row for another tenant cannot be written from tenant A's scope either.
      await expect(
        db.withScope({ tenantId: a.tenantId }, (tx) =>
          tx.query(
            `INSERT INTO workflows.executions (workflow_id, tenant_id, workflow_type, input) VALUES ('forged', $1, 'capsuleRun', '{}')`,
            [b.tenantId],
          ),
        ),
      ).rejects.toThrow(/row-level security/);
      // The only cross-tenant view: which tenant owns an id.
      const owner = await db.withScope({ tenantId: a.tenantId }, async (tx) =>
        tx.query<{ tenant_id: string }>('SELECT workflows.execution_tenant($1) AS tenant_id', [runB]),
      );
      expect(owner.rows[0]?.tenant_id).toBe(b.tenantId);
    });
  },
);
