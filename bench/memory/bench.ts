// bench/memory: the vector side of memory, embedded (PGlite + pgvector) vs the PostgreSQL
// server (+ pgvector) in one run, with the same index the memory domain uses (HNSW,
// vector_cosine_ops, pgvector defaults m=16 ef_construction=64; ef_search 100 and iterative
// scan at query time, as PgVectorIndex sets them).
//
//   npx tsx bench/memory/bench.ts [--sizes 10000,100000] [--queries 200] [--embedded-max 10000]
//
// Per size and backend: ingestion rows/s (batched inserts), HNSW build time, query latency
// p50/p95 for k=10 through the index, and ANN recall@10 against exact search (index off).
// Also: embedding throughput of the embedded model (Universal Sentence Encoder lite, real
// weights). Vectors are seeded synthetic clustered unit vectors of 512 dimensions (the embedded
// model's size), see clusteredVectors. Prints numbers; asserts nothing.
import { parseArgs } from 'node:util';
import { UniversalSentenceEncoderEmbeddingModel } from '@somaagent/embeddings';
import type { SqlDatabase, SqlExecutor } from '@somaagent/ports';
import { PgliteSqlDatabase, PostgresSqlDatabase } from '@somaagent/postgres';
import pg from 'pg';
import { engineByName } from '../../scripts/infra/engines/index';
import { up } from '../../scripts/infra/infra';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000' },
    queries: { type: 'string', default: '200' },
    'embedded-max': { type: 'string', default: '100000' },
  },
});
const sizes = values.sizes!.split(',').map(Number);
const queries = Number(values.queries);
const embeddedMax = Number(values['embedded-max']);
const DIM = 512;
const TENANT = '00000000-0000-4000-8000-0000000000be';

// Seeded PRNG (mulberry32) and Gaussian unit vectors: the same data on both backends.
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function unitVectors(n: number, seed: number): number[][] {
  const r = rng(seed);
  const out: number[][] = [];
  for (let i = 0; i < n; i++) {
    const v = new Array<number>(DIM);
    let norm = 0;
    for (let d = 0; d < DIM; d++) {
      const g = Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
      v[d] = g;
      norm += g * g;
    }
    norm = Math.sqrt(norm);
    out.push(v.map((x) => Number((x / norm).toFixed(6))));
  }
  return out;
}
/**
 * Clustered unit vectors: `size / 100` random centres, each item a centre plus Gaussian noise
 * (cosine to its centre ≈ 0.74). Uniform random vectors in 512 dimensions have no neighbourhood
 * structure at all (every point is nearly equidistant), which no ANN index can exploit and no
 * embedding model produces; clusters are closer to what real memories look like.
 */
function clusteredVectors(n: number, centres: number[][], seed: number): number[][] {
  const r = rng(seed);
  const noise = unitVectors(n, seed + 1);
  return noise.map((e) => {
    const c = centres[Math.floor(r() * centres.length)]!;
    const v = c.map((x, d) => x + 0.9 * e[d]!);
    const norm = Math.hypot(...v);
    return v.map((x) => Number((x / norm).toFixed(6)));
  });
}
const literal = (v: number[]) => `[${v.join(',')}]`;
const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

const migration = (size: number) => ({
  domain: `bench_memory_${size}`,
  version: 1,
  name: 'vectors',
  sql: `CREATE EXTENSION IF NOT EXISTS vector;
    CREATE SCHEMA IF NOT EXISTS bench;
    CREATE TABLE bench.v${size} (id integer PRIMARY KEY, tenant_id uuid NOT NULL, embedding vector(${DIM}) NOT NULL);
    ALTER TABLE bench.v${size} ENABLE ROW LEVEL SECURITY;
    ALTER TABLE bench.v${size} FORCE ROW LEVEL SECURITY;
    CREATE POLICY t ON bench.v${size} USING (tenant_id = nullif(current_setting('soma.tenant_id', true), '')::uuid);
    GRANT USAGE ON SCHEMA bench TO soma_app;
    GRANT SELECT, INSERT ON bench.v${size} TO soma_app;`,
});

interface Row {
  backend: string;
  size: number;
  ingestPerSec: number;
  buildMs: number;
  p50: number;
  p95: number;
  exactP50: number;
  recall: number;
}

async function measure(
  backend: string,
  db: SqlDatabase & { asOwner<T>(w: (tx: SqlExecutor) => Promise<T>): Promise<T> },
  size: number,
  data: number[][],
  probes: number[][],
): Promise<Row> {
  await db.migrate([migration(size)]);
  const t0 = performance.now();
  for (let i = 0; i < size; i += 1000) {
    const batch = data.slice(i, i + 1000);
    await db.withScope({ tenantId: TENANT }, (tx) =>
      tx.query(
        `INSERT INTO bench.v${size} (id, tenant_id, embedding)
         SELECT u.id, $2, u.v::vector FROM unnest($1::int[], $3::text[]) AS u(id, v)`,
        [batch.map((_, j) => i + j), TENANT, batch.map(literal)],
      ),
    );
  }
  const ingestPerSec = size / ((performance.now() - t0) / 1000);
  const b0 = performance.now();
  await db.asOwner((tx) =>
    tx.query(`CREATE INDEX ON bench.v${size} USING hnsw (embedding vector_cosine_ops)`),
  );
  const buildMs = performance.now() - b0;

  const knn = (tx: SqlExecutor, v: number[]) =>
    tx.query<{ id: number }>(`SELECT id FROM bench.v${size} ORDER BY embedding <=> $1::vector LIMIT 10`, [
      literal(v),
    ]);
  const annTimes: number[] = [];
  const exactTimes: number[] = [];
  let hits = 0;
  for (const probe of probes) {
    const a0 = performance.now();
    const ann = await db.withScope({ tenantId: TENANT }, async (tx) => {
      // The ANN path: the HNSW index, forced (at small sizes the planner may prefer an exact
      // scan, which would make "ANN recall" trivially 1.0).
      await tx.query(
        `SELECT set_config('hnsw.ef_search', '100', true), set_config('hnsw.iterative_scan', 'strict_order', true),
                set_config('enable_seqscan', 'off', true)`,
      );
      return knn(tx, probe);
    });
    annTimes.push(performance.now() - a0);
    const e0 = performance.now();
    const exact = await db.withScope({ tenantId: TENANT }, async (tx) => {
      // Ground truth: the index is switched off for this transaction.
      await tx.query(
        `SELECT set_config('enable_indexscan', 'off', true), set_config('enable_bitmapscan', 'off', true)`,
      );
      return knn(tx, probe);
    });
    exactTimes.push(performance.now() - e0);
    const truth = new Set(exact.rows.map((r) => r.id));
    hits += ann.rows.filter((r) => truth.has(r.id)).length;
  }
  return {
    backend,
    size,
    ingestPerSec,
    buildMs,
    p50: percentile(annTimes, 50),
    p95: percentile(annTimes, 95),
    exactP50: percentile(exactTimes, 50),
    recall: hits / (probes.length * 10),
  };
}

console.error('[bench] bringing up postgres (with pgvector)…');
const { env } = await up([engineByName('postgres')], {
  progress: (e, m) => console.error(`[infra] ${e}: ${m}`),
});
const rows: Row[] = [];
for (const size of sizes) {
  const centres = unitVectors(Math.max(10, Math.floor(size / 100)), 42);
  const data = clusteredVectors(size, centres, 43);
  const probes = clusteredVectors(queries, centres, 7);
  // Server: a fresh database per size, dropped afterwards.
  const admin = new pg.Client({ connectionString: env.SOMA_DATABASE_OWNER_URL });
  await admin.connect();
  const name = `soma_bench_mem_${size}_${process.pid}`;
  await admin.query(`CREATE DATABASE ${name} OWNER soma_owner`);
  await admin.query(`GRANT CONNECT ON DATABASE ${name} TO soma_app`);
  const url = (u: string) => Object.assign(new URL(u), { pathname: `/${name}` }).toString();
  const server = new PostgresSqlDatabase({
    appPool: new pg.Pool({ connectionString: url(env.SOMA_DATABASE_URL!), max: 2 }),
    ownerPool: new pg.Pool({ connectionString: url(env.SOMA_DATABASE_OWNER_URL!), max: 1 }),
  });
  try {
    console.error(`[bench] postgres server, ${size} vectors…`);
    rows.push(await measure('PostgreSQL server', server, size, data, probes));
    console.error(`[bench] ${JSON.stringify(rows.at(-1))}`); // progress: long runs keep what they measured
  } finally {
    await server[Symbol.asyncDispose]();
    await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
    await admin.end();
  }
  if (size <= embeddedMax) {
    console.error(`[bench] PGlite (embedded), ${size} vectors…`);
    const embedded = await PgliteSqlDatabase.open();
    try {
      rows.push(await measure('PGlite (embedded)', embedded, size, data, probes));
      console.error(`[bench] ${JSON.stringify(rows.at(-1))}`);
    } finally {
      await embedded[Symbol.asyncDispose]();
    }
  }
}

console.log(`\n## pgvector HNSW, ${DIM}-d cosine, k=10, ${queries} queries, seeded clustered unit vectors\n`);
console.log(
  '| backend | vectors | ingest rows/s | HNSW build | query p50 | query p95 | exact p50 | ANN recall@10 |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(
    `| ${r.backend} | ${r.size} | ${r.ingestPerSec.toFixed(0)} | ${(r.buildMs / 1000).toFixed(1)} s | ${r.p50.toFixed(2)} ms | ${r.p95.toFixed(2)} ms | ${r.exactP50.toFixed(2)} ms | ${r.recall.toFixed(3)} |`,
  );
}
for (const size of sizes) {
  const s = rows.find((r) => r.size === size && r.backend.startsWith('PostgreSQL'));
  const e = rows.find((r) => r.size === size && r.backend.startsWith('PGlite'));
  if (s && e)
    console.log(
      `\n${size}: embedded/server query p95 ratio ${(e.p95 / s.p95).toFixed(2)}x, ingest ratio ${(e.ingestPerSec / s.ingestPerSec).toFixed(2)}x`,
    );
}

// Embedding throughput of the embedded model on real sentences.
const model = new UniversalSentenceEncoderEmbeddingModel();
const sentences = Array.from(
  { length: 256 },
  (_, i) => `Memory item ${i}: the nightly backup of database ${i % 17} finished at ${i % 24}:00 UTC.`,
);
await model.embed(sentences.slice(0, 8));
const m0 = performance.now();
for (let i = 0; i < sentences.length; i += 32) await model.embed(sentences.slice(i, i + 32));
console.log(
  `\nEmbedding (Universal Sentence Encoder lite, 512-d, in-process): ${(sentences.length / ((performance.now() - m0) / 1000)).toFixed(0)} sentences/s`,
);
await model[Symbol.asyncDispose]();
process.exit(0);
