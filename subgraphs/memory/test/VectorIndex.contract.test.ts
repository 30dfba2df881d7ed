import type { SqlDatabase, SqlExecutor } from '@somaagent/ports';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgVectorIndex, type ScopeKey, type VectorCollection } from '../src/index';
import { adapters, newTenant, openMigrated, prng } from './support';

/**
 * The VectorIndex port's contract, on pgvector in PGlite and on the PostgreSQL server: the
 * approximate (HNSW) answer equals the exact one and a brute-force cosine ranking on this data,
 * scope filters hold, and writes roll back with their transaction.
 */

const unit = (v: number[]) => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};
const randomVector = (next: () => number, d: number) => unit(Array.from({ length: d }, () => next() * 2 - 1));
const cosineDistance = (a: readonly number[], b: readonly number[]) =>
  1 - a.reduce((s, x, i) => s + x * b[i]!, 0);

interface Seeded {
  tenant: string;
  collection: VectorCollection;
  items: { id: string; scope: ScopeKey; vector: number[] }[];
}

const asUser = <T>(db: SqlDatabase, tenant: string, user: string, work: (tx: SqlExecutor) => Promise<T>) =>
  db.withScope({ tenantId: tenant }, async (tx) => {
    await tx.query(`SELECT set_config('soma.user_id', $1, true)`, [user]);
    return work(tx);
  });

/** n items of `user` spread over two SESSION scopes, with seeded random vectors of dimension d. */
async function seed(db: SqlDatabase, d: number, n: number, user: string, seedValue: number): Promise<Seeded> {
  const tenant = newTenant();
  const next = prng(seedValue);
  const index = new PgVectorIndex();
  return asUser(db, tenant, user, async (tx) => {
    const c = await tx.query<{ id: string }>(
      `INSERT INTO memory.collections (tenant_id, name, model, dimension) VALUES ($1, 'c', 'random', $2) RETURNING id`,
      [tenant, d],
    );
    const collection = { id: c.rows[0]!.id, dimension: d };
    const scopes: ScopeKey[] = [
      { kind: 'SESSION', id: 's1' },
      { kind: 'SESSION', id: 's2' },
    ];
    const items: Seeded['items'] = [];
    for (let i = 0; i < n; i++) {
      const scope = scopes[i % 2]!;
      const { rows } = await tx.query<{ id: string }>(
        `INSERT INTO memory.items (tenant_id, collection_id, scope_kind, scope_id, owner_id, kind, content)
         VALUES ($1, $2, $3, $4, $5, 'MEMORY', $6) RETURNING id`,
        [tenant, collection.id, scope.kind, scope.id, user, `item ${i}`],
      );
      items.push({ id: rows[0]!.id, scope, vector: randomVector(next, d) });
    }
    await index.put(
      tx,
      collection,
      items.map((i) => ({ itemId: i.id, vector: i.vector })),
    );
    return { tenant, collection, items };
  });
}

for (const adapter of adapters) {
  describe(`VectorIndex contract (PgVectorIndex): ${adapter.name}`, () => {
    let db: SqlDatabase;
    const index = new PgVectorIndex();
    beforeAll(async () => {
      db = await openMigrated(adapter);
    });
    afterAll(async () => {
      await db?.[Symbol.asyncDispose]();
    });

    for (const d of [512, 384, 8]) {
      it(`d=${d}${d === 8 ? ' (no HNSW index: exact)' : ' (HNSW)'}: nearest equals brute force, within the requested scopes`, async () => {
        const s = await seed(db, d, 240, 'u1', d);
        const next = prng(d + 1);
        for (let q = 0; q < 5; q++) {
          const vector = randomVector(next, d);
          for (const scopes of [
            [{ kind: 'SESSION', id: 's1' }],
            [
              { kind: 'SESSION', id: 's1' },
              { kind: 'SESSION', id: 's2' },
            ],
          ] as ScopeKey[][]) {
            const expected = s.items
              .filter((i) => scopes.some((sc) => sc.id === i.scope.id))
              .map((i) => ({ id: i.id, distance: cosineDistance(vector, i.vector) }))
              .sort((a, b) => a.distance - b.distance)
              .slice(0, 10);
            for (const approximate of [true, false]) {
              const hits = await asUser(db, s.tenant, 'u1', (tx) =>
                index.nearest(tx, { collection: s.collection, vector, k: 10, scopes, approximate }),
              );
              expect(hits.map((h) => h.itemId)).toEqual(expected.map((e) => e.id));
              hits.forEach((h, i) => {
                expect(h.distance).toBeCloseTo(expected[i]!.distance, 5);
              });
            }
          }
        }
      });
    }

    it('the 512-d query plan walks the HNSW index (iterative scan) when the planner is left no other choice', async () => {
      const s = await seed(db, 512, 50, 'u1', 99);
      const plan = await asUser(db, s.tenant, 'u1', async (tx) => {
        await tx.query(
          `SELECT set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true)`,
        );
        await tx.query(`SELECT set_config('enable_sort', 'off', true)`);
        const v = `[${s.items[0]!.vector.join(',')}]`;
        const { rows } = await tx.query<Record<string, string>>(
          `EXPLAIN (COSTS OFF) SELECT e.item_id FROM memory.embeddings e
            WHERE e.collection_id = '${s.collection.id}' AND e.dimension = 512
            ORDER BY e.embedding::vector(512) <=> '${v}'::vector(512) LIMIT 5`,
        );
        return rows.map((r) => Object.values(r)[0]).join('\n');
      });
      expect(plan).toMatch(/Index Scan using embeddings_hnsw_512/);
    });

    it("another user's SESSION items and another tenant's items are invisible, whatever scopes are asked", async () => {
      const s = await seed(db, 384, 20, 'owner', 7);
      const vector = s.items[0]!.vector;
      const scopes: ScopeKey[] = [
        { kind: 'SESSION', id: 's1' },
        { kind: 'SESSION', id: 's2' },
      ];
      const other = await asUser(db, s.tenant, 'intruder', (tx) =>
        index.nearest(tx, { collection: s.collection, vector, k: 50, scopes }),
      );
      expect(other).toEqual([]);
      const otherTenant = await asUser(db, newTenant(), 'owner', (tx) =>
        index.nearest(tx, { collection: s.collection, vector, k: 50, scopes }),
      );
      expect(otherTenant).toEqual([]);
      const mine = await asUser(db, s.tenant, 'owner', (tx) =>
        index.nearest(tx, { collection: s.collection, vector, k: 50, scopes }),
      );
      expect(mine).toHaveLength(20);
    });

    it('a vector of another dimension than its collection is refused and the transaction stores nothing', async () => {
      const s = await seed(db, 384, 2, 'u1', 3);
      const attempt = asUser(db, s.tenant, 'u1', async (tx) => {
        const { rows } = await tx.query<{ id: string }>(
          `INSERT INTO memory.items (tenant_id, collection_id, scope_kind, scope_id, owner_id, kind, content)
           VALUES ($1, $2, 'USER', 'u1', 'u1', 'MEMORY', 'x') RETURNING id`,
          [s.tenant, s.collection.id],
        );
        // The collection says 384; the adapter is told 512 (a misconfigured model).
        await index.put(tx, { id: s.collection.id, dimension: 512 }, [
          { itemId: rows[0]!.id, vector: new Array(512).fill(0.01) },
        ]);
      });
      await expect(attempt).rejects.toThrow(/foreign key|violates/);
      const count = await asUser(db, s.tenant, 'u1', (tx) =>
        tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM memory.items WHERE scope_kind = 'USER'`),
      );
      expect(count.rows[0]!.n).toBe(0);
    });
  });
}
