import type { Migration, SqlDatabase, SqlExecutor } from '@somaagent/ports';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../tests/support/postgres';
import { prng } from '../../../tests/support/prng';
import { APP_ROLE, PgliteSqlDatabase } from '../src/index';

/**
 * pgvector through the SqlDatabase port: one table of assertions, run against the embedded PGlite
 * (`@electric-sql/pglite-pgvector`) and the harness's PostgreSQL server (pgvector built from Debian
 * source by scripts/infra/postgres/pgvector.ts), on a fresh database each. The extension is created
 * by a migration, as the owner, exactly as a product migration would do it.
 */

type Database = SqlDatabase & { asOwner<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> };

interface Adapter {
  name: string;
  open(): Promise<Database & AsyncDisposable>;
}

const adapters: Adapter[] = [
  { name: 'pglite', open: () => PgliteSqlDatabase.open() },
  { name: 'postgres', open: () => createTestDatabase() },
];

const TENANT_A = 'tenant-a';
const TENANT_B = 'tenant-b';

/** A tenant table with a `vector(3)` column and FORCE RLS, in schema `ns` (cf. sessions 001). */
const itemsMigration = (ns: string): Migration => ({
  domain: ns,
  version: 1,
  name: 'items',
  sql: `
    CREATE EXTENSION IF NOT EXISTS vector;
    CREATE SCHEMA ${ns};
    GRANT USAGE ON SCHEMA ${ns} TO ${APP_ROLE};
    CREATE TABLE ${ns}.items (
      id text NOT NULL,
      tenant_id text NOT NULL,
      embedding vector(3) NOT NULL,
      PRIMARY KEY (tenant_id, id)
    );
    ALTER TABLE ${ns}.items ENABLE ROW LEVEL SECURITY;
    ALTER TABLE ${ns}.items FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON ${ns}.items
      USING (tenant_id = current_setting('soma.tenant_id', true))
      WITH CHECK (tenant_id = current_setting('soma.tenant_id', true));
    GRANT SELECT, INSERT, UPDATE, DELETE ON ${ns}.items TO ${APP_ROLE};
  `,
});

const hnswMigration = (ns: string): Migration => ({
  domain: ns,
  version: 2,
  name: 'items_hnsw',
  sql: `CREATE INDEX items_embedding_hnsw ON ${ns}.items USING hnsw (embedding vector_cosine_ops);`,
});

type Vec = readonly [number, number, number];
const literal = (v: readonly number[]) => `[${v.join(',')}]`;

/** Inserts `rows` for `tenant` in one statement, inside that tenant's scope. */
const insertItems = (db: Database, ns: string, tenant: string, rows: readonly (readonly [string, Vec])[]) =>
  db.withScope({ tenantId: tenant }, (tx) =>
    tx.query(
      `INSERT INTO ${ns}.items (tenant_id, id, embedding)
       SELECT $1, id, e::vector FROM unnest($2::text[], $3::text[]) AS t(id, e)`,
      [tenant, rows.map(([id]) => id), rows.map(([, v]) => literal(v))],
    ),
  );

type Operator = '<->' | '<=>';

/** The `k` nearest rows to `q` visible to `tenant`, nearest first. `settings` are SET LOCAL first. */
async function knn(
  db: Database,
  ns: string,
  tenant: string,
  op: Operator,
  q: readonly number[],
  k: number,
  settings: readonly string[] = [],
) {
  return db.withScope({ tenantId: tenant }, async (tx) => {
    for (const s of settings) await tx.query(`SET LOCAL ${s}`);
    const { rows } = await tx.query<{ id: string; tenant_id: string; distance: number }>(
      `SELECT id, tenant_id, embedding ${op} $1::vector AS distance
         FROM ${ns}.items ORDER BY embedding ${op} $1::vector LIMIT $2`,
      [literal(q), k],
    );
    return rows;
  });
}

/** The plan of the kNN query above, as text (the vector inlined: EXPLAIN of a literal query). */
async function knnPlan(db: Database, ns: string, tenant: string, q: readonly number[], settings: string[]) {
  return db.withScope({ tenantId: tenant }, async (tx) => {
    for (const s of settings) await tx.query(`SET LOCAL ${s}`);
    const { rows } = await tx.query<Record<string, string>>(
      `EXPLAIN (COSTS OFF) SELECT id FROM ${ns}.items
         ORDER BY embedding <=> '${literal(q)}'::vector LIMIT 5`,
    );
    return rows.map((r) => Object.values(r)[0]).join('\n');
  });
}

const countAll = async (db: Database, ns: string) =>
  Number(
    (await db.asOwner((tx) => tx.query<{ n: string }>(`SELECT count(*) AS n FROM ${ns}.items`))).rows[0]!.n,
  );

const randomItems = (prefix: string, n: number, seed: number): [string, Vec][] => {
  const next = prng(seed);
  // Two decimals: the literal is exact enough that float32 storage cannot reorder neighbours.
  const coord = () => Math.round((next() * 2 - 1) * 100) / 100;
  return Array.from({ length: n }, (_, i) => [`${prefix}${i}`, [coord(), coord(), coord()]]);
};

const cosineDistance = (a: readonly number[], b: readonly number[]) => {
  const dot = a.reduce((s, x, i) => s + x * b[i]!, 0);
  const norm = (v: readonly number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return 1 - dot / (norm(a) * norm(b));
};

/** Tenant A's small, hand-made set: the L2 and cosine orders from Q differ (x10 is far, but aligned). */
const Q: Vec = [1, 0, 0];
const HANDMADE: [string, Vec][] = [
  ['x1', [1, 0, 0]], // L2 0,     cosine 0
  ['x10', [10, 0.5, 0]], // L2 9.01,  cosine 0.00125
  ['near', [0.9, 0.1, 0]], // L2 0.141, cosine 0.00612
  ['diag', [1, 1, 0]], // L2 1,     cosine 0.293
  ['y', [0, 1, 0]], // L2 1.414, cosine 1
  ['neg', [-1, 0, 0]], // L2 2,     cosine 2
];

/** pgvector's `extversion` per adapter, printed once at the end. */
const versions: Record<string, string> = {};

interface Case {
  name: string;
  run(db: Database, ns: string, adapter: string): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// The table. Every adapter must pass every row.

const contract: Case[] = [
  {
    name: 'a migration run as the owner creates the vector extension (pgvector 0.8+) and a vector(3) column',
    async run(db, ns, adapter) {
      expect(await db.migrate([itemsMigration(ns)])).toEqual({ applied: [`${ns}@1`], alreadyApplied: [] });
      const { rows } = await db.asOwner((tx) =>
        tx.query<{ extversion: string; typmod: number; server: string }>(
          `SELECT e.extversion,
                  (SELECT atttypmod FROM pg_attribute
                    WHERE attrelid = '${ns}.items'::regclass AND attname = 'embedding') AS typmod,
                  current_setting('server_version') AS server
             FROM pg_extension e WHERE e.extname = 'vector'`,
        ),
      );
      expect(rows).toHaveLength(1);
      const [major, minor] = rows[0]!.extversion.split('.').map(Number);
      expect(major! > 0 || minor! >= 8).toBe(true);
      expect(rows[0]!.typmod).toBe(3);
      versions[adapter] = `pgvector ${rows[0]!.extversion} on PostgreSQL ${rows[0]!.server}`;
    },
  },
  {
    name: 'exact kNN: <-> orders by L2 distance and <=> by cosine distance',
    async run(db, ns) {
      await db.migrate([itemsMigration(ns)]);
      await insertItems(db, ns, TENANT_A, HANDMADE);
      const l2 = await knn(db, ns, TENANT_A, '<->', Q, 10);
      expect(l2.map((r) => r.id)).toEqual(['x1', 'near', 'diag', 'y', 'neg', 'x10']);
      expect(l2.map((r) => r.distance)).toEqual(
        [0, Math.sqrt(0.02), 1, Math.SQRT2, 2, Math.sqrt(81.25)].map((d) => expect.closeTo(d, 5)),
      );
      const cosine = await knn(db, ns, TENANT_A, '<=>', Q, 10);
      expect(cosine.map((r) => r.id)).toEqual(['x1', 'x10', 'near', 'diag', 'y', 'neg']);
      expect(cosine.map((r) => r.distance)).toEqual(
        HANDMADE.map(([, v]) => cosineDistance(Q, v))
          .sort((a, b) => a - b)
          .map((d) => expect.closeTo(d, 5)),
      );
      expect((await knn(db, ns, TENANT_A, '<=>', Q, 2)).map((r) => r.id)).toEqual(['x1', 'x10']);
    },
  },
  {
    name: 'an HNSW index (vector_cosine_ops) builds, is used, and returns the exact top-k',
    async run(db, ns) {
      await db.migrate([itemsMigration(ns)]);
      const a = randomItems('a', 200, 1);
      await insertItems(db, ns, TENANT_A, a);
      await insertItems(db, ns, TENANT_B, randomItems('b', 200, 2));
      expect(await db.migrate([itemsMigration(ns), hnswMigration(ns)])).toEqual({
        applied: [`${ns}@2`],
        alreadyApplied: [`${ns}@1`],
      });
      const queries: Vec[] = [
        [0.3, -0.2, 0.9],
        [-0.7, 0.1, 0.05],
        [0.01, 0.99, -0.4],
      ];
      const exactPlan = ['enable_indexscan = off'];
      // With RLS on tenant_id, the planner prefers the primary key (tenant_id, id) and a sort on
      // this little data; sorting is switched off so the ordered HNSW scan wins. ef_search above
      // the default 40: the tenant filter runs after the index hands out its candidates.
      const indexPlan = [
        'enable_seqscan = off',
        'enable_bitmapscan = off',
        'enable_sort = off',
        'hnsw.ef_search = 100',
      ];
      expect(await knnPlan(db, ns, TENANT_A, queries[0]!, indexPlan)).toMatch(
        /Index Scan using items_embedding_hnsw/,
      );
      expect(await knnPlan(db, ns, TENANT_A, queries[0]!, exactPlan)).not.toMatch(/items_embedding_hnsw/);
      for (const q of queries) {
        const expected = [...a]
          .sort(([, u], [, v]) => cosineDistance(q, u) - cosineDistance(q, v))
          .slice(0, 5)
          .map(([id]) => id);
        const exact = await knn(db, ns, TENANT_A, '<=>', q, 5, exactPlan);
        const viaIndex = await knn(db, ns, TENANT_A, '<=>', q, 5, indexPlan);
        expect(exact.map((r) => r.id)).toEqual(expected);
        expect(viaIndex.map((r) => r.id)).toEqual(expected);
      }
    },
  },
  {
    name: "RLS: tenant A's kNN never returns tenant B's rows, with or without the index",
    async run(db, ns) {
      await db.migrate([itemsMigration(ns)]);
      await insertItems(db, ns, TENANT_A, [
        ['a-far1', [0.1, 0, 1]], // L2 1.345, cosine 0.900
        ['a-far2', [0, 1, 0]], //   L2 1.414, cosine 1
        ['a-far3', [-1, 0, 0]], //  L2 2,     cosine 2
      ]);
      const mine = ['a-far1', 'a-far2', 'a-far3'];
      // B's 51 rows are all nearer to Q than any of A's, by both measures.
      const b = randomItems('b', 50, 3).map(([id, [, y, z]]): [string, Vec] => [id, [5, y / 10, z / 10]]);
      await insertItems(db, ns, TENANT_B, [['b-exact', Q], ...b]);
      await db.migrate([itemsMigration(ns), hnswMigration(ns)]);
      const exactPlan = ['enable_indexscan = off'];
      const indexPlan = ['enable_seqscan = off', 'enable_bitmapscan = off', 'enable_sort = off'];
      expect(await knnPlan(db, ns, TENANT_A, Q, indexPlan)).toMatch(/Index Scan using items_embedding_hnsw/);
      for (const op of ['<->', '<=>'] as const) {
        expect((await knn(db, ns, TENANT_A, op, Q, 100, exactPlan)).map((r) => r.id)).toEqual(mine);
        expect((await knn(db, ns, TENANT_B, op, Q, 1, exactPlan)).map((r) => r.id)).toEqual(['b-exact']);
        expect((await knn(db, ns, TENANT_B, op, Q, 1, indexPlan)).map((r) => r.id)).toEqual(['b-exact']);
      }
      // Through the HNSW index the policy filters the index's candidates (ef_search = 40, all
      // B's): A gets none of B's rows, but may get fewer than its own. pgvector 0.8's iterative
      // scan keeps walking the graph until LIMIT is met: what a tenant-filtered kNN needs.
      const filtered = await knn(db, ns, TENANT_A, '<=>', Q, 100, indexPlan);
      expect(filtered.every((r) => r.tenant_id === TENANT_A && mine.includes(r.id))).toBe(true);
      expect(filtered.length).toBeLessThan(mine.length);
      const iterative = [...indexPlan, 'hnsw.iterative_scan = strict_order'];
      expect(await knnPlan(db, ns, TENANT_A, Q, iterative)).toMatch(/Index Scan using items_embedding_hnsw/);
      expect((await knn(db, ns, TENANT_A, '<=>', Q, 100, iterative)).map((r) => r.id)).toEqual(mine);
      const none = await db.withScope({ tenantId: null }, (tx) =>
        tx.query(`SELECT id FROM ${ns}.items ORDER BY embedding <-> $1::vector LIMIT 10`, [literal(Q)]),
      );
      expect(none.rows).toEqual([]);
    },
  },
  {
    name: 'a vector of the wrong dimension is refused and nothing of its transaction is stored',
    async run(db, ns) {
      await db.migrate([itemsMigration(ns)]);
      await expect(
        db.withScope({ tenantId: TENANT_A }, async (tx) => {
          await tx.query(`INSERT INTO ${ns}.items (tenant_id, id, embedding) VALUES ($1, 'ok', '[1,2,3]')`, [
            TENANT_A,
          ]);
          await tx.query(
            `INSERT INTO ${ns}.items (tenant_id, id, embedding) VALUES ($1, 'bad', $2::vector)`,
            [TENANT_A, '[1,2,3,4]'],
          );
        }),
      ).rejects.toThrow(/expected 3 dimensions, not 4/);
      await expect(insertItems(db, ns, TENANT_A, [['bad', [1, 2, 3, 4] as unknown as Vec]])).rejects.toThrow(
        /expected 3 dimensions, not 4/,
      );
      expect(await countAll(db, ns)).toBe(0);
      await insertItems(db, ns, TENANT_A, [['ok', [1, 2, 3]]]);
      await expect(knn(db, ns, TENANT_A, '<->', [1, 2, 3, 4], 1)).rejects.toThrow(
        /different vector dimensions 3 and 4/,
      );
      expect(await countAll(db, ns)).toBe(1);
    },
  },
];

for (const adapter of adapters) {
  describe(`pgvector contract: ${adapter.name}`, () => {
    let db: Database & AsyncDisposable;
    beforeAll(async () => {
      db = await adapter.open();
    });
    afterAll(async () => {
      if (versions[adapter.name])
        console.info(`[vector.contract] ${adapter.name}: ${versions[adapter.name]}`);
      await db?.[Symbol.asyncDispose]();
    });
    contract.forEach((c, index) => {
      it(c.name, () => c.run(db, `vector_${index}`, adapter.name));
    });
  });
}
