import { inspect } from 'node:util';
import { SomaError } from '@somaagent/errors';
import type { Migration, SqlDatabase, SqlExecutor } from '@somaagent/ports';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../tests/support/postgres';
import { APP_ROLE, PgliteSqlDatabase } from '../src/index';

/**
 * The SqlDatabase port's contract: one table of assertions, run against every adapter: the
 * embedded PGlite (in memory) and a real PostgreSQL server (a fresh database on the harness
 * server, see tests/support/postgres.ts). Each case works in its own schema/migration domain,
 * so one database per adapter serves the whole table.
 */

type Database = SqlDatabase & { asOwner<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> };

interface Capabilities {
  /**
   * The connection scopes run on is logged in as the application role itself, so work inside a
   * scope cannot `SET ROLE` back to the owner. PGlite has a single superuser session and reaches
   * the app role with `SET LOCAL ROLE` only, so it lacks this; embedded mode runs only our code.
   */
  sessionIsAppRole: boolean;
  /** The database runs inside this process (sessions answer first on it; see SqlDatabase.inProcess). */
  inProcess: boolean;
}

interface Subject {
  db: Database;
  /** Runs `sql` on the connection scopes run on, outside any scope (the pool has one connection). */
  outsideScope(sql: string): Promise<Record<string, unknown>>;
  dispose(): Promise<void>;
}

interface Adapter {
  name: string;
  capabilities: Capabilities;
  open(): Promise<Subject>;
}

const adapters: Adapter[] = [
  {
    name: 'pglite',
    capabilities: { sessionIsAppRole: false, inProcess: true },
    async open() {
      const db = await PgliteSqlDatabase.open();
      return {
        db,
        // PGlite has exactly one session: the owner's view of it is the connection scopes ran on.
        outsideScope: async (sql) => (await db.asOwner((tx) => tx.query(sql))).rows[0]!,
        dispose: () => db[Symbol.asyncDispose](),
      };
    },
  },
  {
    name: 'postgres',
    capabilities: { sessionIsAppRole: true, inProcess: false },
    async open() {
      const db = await createTestDatabase({ appPoolMax: 1 });
      return {
        db,
        outsideScope: async (sql) => (await db.appPool.query(sql)).rows[0] as Record<string, unknown>,
        dispose: () => db[Symbol.asyncDispose](),
      };
    },
  },
];

const TENANT_A = 'tenant-a';
const TENANT_B = 'tenant-b';

/** A tenant table with FORCE RLS, in schema `ns`, as a product migration would create it. */
function notesMigrations(ns: string): Migration[] {
  return [
    {
      domain: ns,
      version: 1,
      name: 'notes',
      sql: `
        CREATE SCHEMA ${ns};
        GRANT USAGE ON SCHEMA ${ns} TO ${APP_ROLE};
        CREATE TABLE ${ns}.notes (
          id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          tenant_id text NOT NULL,
          body text NOT NULL
        );
        ALTER TABLE ${ns}.notes ENABLE ROW LEVEL SECURITY;
        ALTER TABLE ${ns}.notes FORCE ROW LEVEL SECURITY;
        CREATE POLICY tenant_isolation ON ${ns}.notes
          USING (tenant_id = current_setting('soma.tenant_id', true))
          WITH CHECK (tenant_id = current_setting('soma.tenant_id', true));
        GRANT SELECT, INSERT, UPDATE, DELETE ON ${ns}.notes TO ${APP_ROLE};
      `,
    },
    {
      domain: ns,
      version: 2,
      name: 'notes_created_at',
      sql: `ALTER TABLE ${ns}.notes ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();`,
    },
  ];
}

const insertNote = (tx: SqlExecutor, ns: string, tenant: string, body: string) =>
  tx.query(`INSERT INTO ${ns}.notes (tenant_id, body) VALUES ($1, $2)`, [tenant, body]);

const countAll = async (db: Database, ns: string) =>
  Number(
    (await db.asOwner((tx) => tx.query<{ n: string }>(`SELECT count(*) AS n FROM ${ns}.notes`))).rows[0]!.n,
  );

interface Case {
  name: string;
  run(subject: Subject, ns: string, capabilities: Capabilities): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// The table. Every adapter must pass every row.

const contract: Case[] = [
  {
    name: 'migrate applies pending migrations once and is idempotent',
    async run({ db }, ns) {
      const [first, second] = notesMigrations(ns);
      expect(await db.migrate([first!])).toEqual({ applied: [`${ns}@1`], alreadyApplied: [] });
      expect(await db.migrate([first!, second!])).toEqual({
        applied: [`${ns}@2`],
        alreadyApplied: [`${ns}@1`],
      });
      expect(await db.migrate([second!, first!])).toEqual({
        applied: [],
        alreadyApplied: [`${ns}@1`, `${ns}@2`],
      });
      const { rows } = await db.asOwner((tx) =>
        tx.query('SELECT version FROM public.soma_schema_migrations WHERE domain = $1 ORDER BY version', [
          ns,
        ]),
      );
      expect(rows).toEqual([{ version: 1 }, { version: 2 }]);
    },
  },
  {
    name: 'migrate refuses an applied migration whose SQL was edited, and applies nothing of that batch',
    async run({ db }, ns) {
      const [first, second] = notesMigrations(ns);
      await db.migrate([first!]);
      const edited = { ...first!, sql: `${first!.sql}\nCREATE TABLE ${ns}.sneaky (x int);` };
      await expect(db.migrate([edited, second!])).rejects.toThrow(/edited after it was applied/);
      const { rows } = await db.asOwner((tx) =>
        tx.query(
          `SELECT (SELECT count(*)::int FROM pg_tables WHERE schemaname = $1 AND tablename = 'sneaky') AS sneaky,
                  (SELECT count(*)::int FROM public.soma_schema_migrations WHERE domain = $1) AS applied`,
          [ns],
        ),
      );
      expect(rows[0]).toEqual({ sneaky: 0, applied: 1 });
    },
  },
  {
    name: 'concurrent migrate calls apply each migration exactly once',
    async run({ db }, ns) {
      const migrations = notesMigrations(ns);
      const reports = await Promise.all([
        db.migrate(migrations),
        db.migrate(migrations),
        db.migrate(migrations),
      ]);
      expect(reports.flatMap((r) => r.applied).sort()).toEqual([`${ns}@1`, `${ns}@2`]);
    },
  },
  {
    name: 'scoped work runs as the application role, which owns nothing and has no BYPASSRLS',
    async run({ db }, ns) {
      await db.migrate(notesMigrations(ns));
      const inside = await db.withScope({ tenantId: TENANT_A }, (tx) =>
        tx.query<{ role: string }>('SELECT current_user AS role'),
      );
      expect(inside.rows[0]!.role).toBe(APP_ROLE);
      const { rows } = await db.asOwner((tx) =>
        tx.query(
          `SELECT r.rolsuper, r.rolbypassrls, r.rolcreatedb, r.rolcreaterole,
                  (SELECT count(*)::int FROM pg_tables WHERE tableowner = r.rolname) AS owned_tables,
                  (SELECT count(*)::int FROM pg_class WHERE relowner = r.oid) AS owned_relations,
                  (SELECT count(*)::int FROM pg_namespace WHERE nspowner = r.oid) AS owned_schemas
             FROM pg_roles r WHERE r.rolname = $1`,
          [APP_ROLE],
        ),
      );
      expect(rows).toEqual([
        {
          rolsuper: false,
          rolbypassrls: false,
          rolcreatedb: false,
          rolcreaterole: false,
          owned_tables: 0,
          owned_relations: 0,
          owned_schemas: 0,
        },
      ]);
    },
  },
  {
    name: 'RLS: a scope reads, updates and deletes only its own tenant rows',
    async run({ db }, ns) {
      await db.migrate(notesMigrations(ns));
      await db.withScope({ tenantId: TENANT_A }, (tx) => insertNote(tx, ns, TENANT_A, 'a1'));
      await db.withScope({ tenantId: TENANT_B }, (tx) => insertNote(tx, ns, TENANT_B, 'b1'));
      const seenByA = await db.withScope({ tenantId: TENANT_A }, (tx) =>
        tx.query<{ tenant_id: string; body: string }>(`SELECT tenant_id, body FROM ${ns}.notes`),
      );
      expect(seenByA.rows).toEqual([{ tenant_id: TENANT_A, body: 'a1' }]);
      const updated = await db.withScope({ tenantId: TENANT_A }, (tx) =>
        tx.query(`UPDATE ${ns}.notes SET body = 'overwritten'`),
      );
      expect(updated.rowCount).toBe(1);
      const deleted = await db.withScope({ tenantId: TENANT_A }, (tx) =>
        tx.query(`DELETE FROM ${ns}.notes WHERE tenant_id = $1`, [TENANT_B]),
      );
      expect(deleted.rowCount).toBe(0);
      const { rows } = await db.asOwner((tx) =>
        tx.query(`SELECT tenant_id, body FROM ${ns}.notes ORDER BY tenant_id`),
      );
      expect(rows).toEqual([
        { tenant_id: TENANT_A, body: 'overwritten' },
        { tenant_id: TENANT_B, body: 'b1' },
      ]);
      const forced = await db.asOwner((tx) =>
        tx.query(
          `SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = '${ns}.notes'::regclass`,
        ),
      );
      expect(forced.rows[0]).toEqual({ relrowsecurity: true, relforcerowsecurity: true });
    },
  },
  {
    name: 'RLS: a scope cannot insert or move a row into another tenant',
    async run({ db }, ns) {
      await db.migrate(notesMigrations(ns));
      await expect(
        db.withScope({ tenantId: TENANT_A }, (tx) => insertNote(tx, ns, TENANT_B, 'smuggled')),
      ).rejects.toThrow(/row-level security/);
      await db.withScope({ tenantId: TENANT_A }, (tx) => insertNote(tx, ns, TENANT_A, 'mine'));
      await expect(
        db.withScope({ tenantId: TENANT_A }, (tx) =>
          tx.query(`UPDATE ${ns}.notes SET tenant_id = $1`, [TENANT_B]),
        ),
      ).rejects.toThrow(/row-level security/);
      expect(await countAll(db, ns)).toBe(1);
      const b = await db.withScope({ tenantId: TENANT_B }, (tx) => tx.query(`SELECT * FROM ${ns}.notes`));
      expect(b.rows).toEqual([]);
    },
  },
  {
    name: 'RLS: a scope without a tenant sees and writes no tenant rows',
    async run({ db }, ns) {
      await db.migrate(notesMigrations(ns));
      await db.withScope({ tenantId: TENANT_A }, (tx) => insertNote(tx, ns, TENANT_A, 'a1'));
      const none = await db.withScope({ tenantId: null }, (tx) => tx.query(`SELECT * FROM ${ns}.notes`));
      expect(none.rows).toEqual([]);
      await expect(
        db.withScope({ tenantId: null }, (tx) => insertNote(tx, ns, TENANT_A, 'x')),
      ).rejects.toThrow(/row-level security/);
    },
  },
  {
    name: 'rollback: a throw inside work undoes everything and rethrows the same error',
    async run({ db }, ns) {
      await db.migrate(notesMigrations(ns));
      const boom = new Error('boom');
      await expect(
        db.withScope({ tenantId: TENANT_A }, async (tx) => {
          await insertNote(tx, ns, TENANT_A, 'first');
          await insertNote(tx, ns, TENANT_A, 'second');
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect(await countAll(db, ns)).toBe(0);
      // The connection is usable afterwards (no transaction left open on it).
      await db.withScope({ tenantId: TENANT_A }, (tx) => insertNote(tx, ns, TENANT_A, 'after'));
      expect(await countAll(db, ns)).toBe(1);
    },
  },
  {
    name: 'rollback: a failing statement undoes the statements before it',
    async run({ db }, ns) {
      await db.migrate(notesMigrations(ns));
      await expect(
        db.withScope({ tenantId: TENANT_A }, async (tx) => {
          await insertNote(tx, ns, TENANT_A, 'first');
          await tx.query(`INSERT INTO ${ns}.notes (tenant_id, body) VALUES ($1, NULL)`, [TENANT_A]);
        }),
      ).rejects.toThrow(/null value/);
      expect(await countAll(db, ns)).toBe(0);
    },
  },
  {
    name: "a pooled connection never carries one scope's tenant or role into the next",
    async run({ db, outsideScope }, ns) {
      await db.migrate(notesMigrations(ns));
      const setting = `current_setting('soma.tenant_id', true) AS tenant,
        current_setting('soma.platform_admin', true) AS admin, current_user AS role, session_user AS login`;
      const inA = await db.withScope({ tenantId: TENANT_A, platformAdmin: true }, (tx) =>
        tx.query(`SELECT ${setting}`),
      );
      expect(inA.rows[0]).toMatchObject({ tenant: TENANT_A, admin: 'on', role: APP_ROLE });
      // The same (only) connection, outside any scope: neither tenant nor role survived the commit.
      const between = await outsideScope(`SELECT ${setting}`);
      expect([null, '']).toContain(between.tenant);
      expect([null, '', 'off']).toContain(between.admin);
      // No SET ROLE in effect any more: the connection is back to its login role.
      expect(between.role).toBe(between.login);
      const next = await db.withScope({ tenantId: null }, (tx) => tx.query(`SELECT ${setting}`));
      expect([null, '']).toContain(next.rows[0]!.tenant);
      expect(next.rows[0]!.admin).toBe('off');
      // A rolled-back scope leaves nothing behind either.
      await expect(
        db.withScope({ tenantId: TENANT_B }, async () => {
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      const afterAbort = await db.withScope({ tenantId: null }, (tx) => tx.query(`SELECT ${setting}`));
      expect([null, '']).toContain(afterAbort.rows[0]!.tenant);
    },
  },
  {
    name: 'a session-level setting made inside work does not reach the next scope',
    async run({ db }, ns) {
      await db.migrate(notesMigrations(ns));
      await db.withScope({ tenantId: TENANT_B }, (tx) => insertNote(tx, ns, TENANT_B, 'b1'));
      await db.withScope({ tenantId: TENANT_A }, (tx) =>
        tx.query(`SELECT set_config('soma.tenant_id', $1, false)`, [TENANT_B]),
      );
      const next = await db.withScope({ tenantId: null }, (tx) =>
        tx.query(
          `SELECT current_setting('soma.tenant_id', true) AS tenant, (SELECT count(*)::int FROM ${ns}.notes) AS visible`,
        ),
      );
      expect(next.rows[0]!.visible).toBe(0);
      expect([null, '']).toContain(next.rows[0]!.tenant);
    },
  },
  {
    name: 'a named statement is planned once and answers as the unnamed one, under each scope’s RLS',
    async run({ db }, ns) {
      await db.migrate(notesMigrations(ns));
      // Values that must survive literal quoting (PGlite runs named statements as EXECUTE).
      const bodies = ["it's", 'back\\slash \\n', "both ' and \\", '{"json": [1, "two"]}', 'plain'];
      const insert = `INSERT INTO ${ns}.notes (tenant_id, body) VALUES ($1, $2) RETURNING body`;
      const select = `SELECT body, $1::int + 1 AS next, $2::text IS NULL AS missing FROM ${ns}.notes ORDER BY body`;
      for (const body of bodies) {
        const named = await db.withScope({ tenantId: TENANT_A }, (tx) =>
          tx.query<{ body: string }>(insert, [TENANT_A, body], { name: `${ns}.insert` }),
        );
        expect(named.rows).toEqual([{ body }]);
        expect(named.rowCount).toBe(1);
      }
      await db.withScope({ tenantId: TENANT_B }, (tx) =>
        tx.query(insert, [TENANT_B, 'other tenant'], { name: `${ns}.insert` }),
      );
      for (const tenant of [TENANT_A, TENANT_B]) {
        const [named, unnamed] = await db.withScope({ tenantId: tenant }, async (tx) => [
          await tx.query(select, [41, null], { name: `${ns}.select` }),
          await tx.query(select, [41, null]),
        ]);
        expect(named.rows).toEqual(unnamed.rows);
        expect(named.rows.map((r) => r.body)).toEqual(
          tenant === TENANT_A ? [...bodies].sort() : ['other tenant'],
        );
        expect(named.rows[0]).toMatchObject({ next: 42, missing: true });
      }
      // One name, one text: a second text under the same name is refused, not silently run.
      await expect(
        db.withScope({ tenantId: TENANT_A }, (tx) =>
          tx.query(`SELECT 1 FROM ${ns}.notes`, [], { name: `${ns}.select` }),
        ),
      ).rejects.toThrow();
    },
  },
  {
    name: 'says whether it runs inside this process (declared: inProcess)',
    async run({ db }, _ns, capabilities) {
      expect(db.inProcess).toBe(capabilities.inProcess);
    },
  },
  {
    name: 'work inside a scope cannot switch to the owner role (declared: sessionIsAppRole)',
    async run({ db }, ns, capabilities) {
      await db.migrate(notesMigrations(ns));
      const escalate = db.withScope({ tenantId: TENANT_A }, async (tx) => {
        await tx.query('RESET ROLE');
        return tx.query<{ role: string }>('SELECT current_user AS role');
      });
      if (capabilities.sessionIsAppRole) {
        // RESET ROLE returns to the login role, which is the application role itself.
        expect((await escalate).rows[0]!.role).toBe(APP_ROLE);
        await expect(
          db.withScope({ tenantId: TENANT_A }, (tx) => tx.query('SET ROLE soma_owner')),
        ).rejects.toThrow(/permission denied/);
      } else {
        // Declared limitation: the embedded session user is a superuser; only our own code runs there.
        expect((await escalate).rows[0]!.role).not.toBe(APP_ROLE);
      }
    },
  },
  {
    name: 'a value the database cannot store is BAD_USER_INPUT with a fixed message (NUL, a malformed uuid)',
    async run({ db }, ns) {
      await db.migrate(notesMigrations(ns));
      const secret = 'private words';
      for (const [body, sqlState] of [
        [`a\u0000b ${secret}`, '22021'],
        [`not-a-uuid ${secret}`, '22P02'],
      ] as const) {
        const failed = await db
          .withScope({ tenantId: TENANT_A }, (tx) =>
            sqlState === '22021'
              ? insertNote(tx, ns, TENANT_A, body)
              : tx.query(`SELECT * FROM ${ns}.notes WHERE id = $1`, [body]),
          )
          .then(
            () => undefined,
            (error: unknown) => error,
          );
        expect(failed).toBeInstanceOf(SomaError);
        expect((failed as SomaError).extensions).toMatchObject({ code: 'BAD_USER_INPUT', sqlState });
        expect((failed as SomaError).message).not.toContain(secret);
      }
      expect(await countAll(db, ns)).toBe(0);
    },
  },
  {
    name: 'a failed query carries none of its parameters or the values PostgreSQL quotes in detail',
    async run({ db }, ns) {
      const unique: Migration = {
        domain: ns,
        version: 3,
        name: 'unique_body',
        sql: `CREATE UNIQUE INDEX notes_body_key ON ${ns}.notes (body)`,
      };
      await db.migrate([...notesMigrations(ns), unique]);
      const secret = 'hunter2-secret-body';
      const failed = await db
        .withScope({ tenantId: TENANT_A }, async (tx) => {
          await insertNote(tx, ns, TENANT_A, secret);
          await insertNote(tx, ns, TENANT_A, secret);
        })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(failed).toBeDefined();
      expect((failed as { code?: string }).code).toBe('23505');
      expect(inspect(failed, { depth: 5 })).not.toContain(secret);
    },
  },
];

for (const adapter of adapters) {
  describe(`SqlDatabase contract: ${adapter.name}`, () => {
    let subject: Subject;
    beforeAll(async () => {
      subject = await adapter.open();
    });
    afterAll(async () => {
      await subject?.dispose();
    });
    contract.forEach((c, index) => {
      it(c.name, () => c.run(subject, `contract_${index}`, adapter.capabilities));
    });
  });
}
