// bench/memory: memory's ingestion and retrieval, embedded (PGlite + pgvector) vs the PostgreSQL
// server (+ pgvector), in one run.
//
//   nice -n 10 npx tsx bench/memory/bench.ts [--sizes 10000,100000] [--backends server,pglite]
//     [--queries 200] [--path-chunks 550] [--maintenance-work-mem 1GB]
//
// Part 1, vectors (the index memory searches): per size and backend, bulk ingestion rows/s
// (batched INSERTs of 1,000), HNSW build time (vector_cosine_ops, m=16, ef_construction=64 as in
// migration 001; built after the bulk load with maintenance_work_mem as given), recall latency
// p50/p95 for k=10 through the index (ef_search 100 + iterative scan, as PgVectorIndex sets
// them), exact-scan p50, and ANN recall@10 against the exact scan. Seeded synthetic clustered
// unit vectors of 512 dimensions (the embedded model's width), see clusteredVectors.
//
// Part 2, the whole memory path: MemoryService.ingestDocument (chunking, embedding with the real
// embedded model in its worker thread, items + vectors in one transaction, the HNSW index of the
// memory schema maintained row by row) on real README text, next to the embedding alone
// (worker thread and in-thread) and the raw vector inserts of part 1.
//
// Prints progress to stderr while it works and markdown tables with ratios against a baseline
// row to stdout. Asserts nothing.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  type EmbeddingModel,
  UniversalSentenceEncoderEmbeddingModel,
  UniversalSentenceEncoderWorkerEmbeddingModel,
} from '@somaagent/embeddings';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import { chunkText, MemoryService, memoryMigrations, PgVectorIndex } from '@somaagent/memory';
import type { SqlDatabase, SqlExecutor } from '@somaagent/ports';
import { PgliteSqlDatabase, PostgresSqlDatabase } from '@somaagent/postgres';
import pg from 'pg';
import { engineByName } from '../../scripts/infra/engines/index';
import { up } from '../../scripts/infra/infra';
import { prng as rng } from '../../tests/support/prng';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000' },
    backends: { type: 'string', default: 'server,pglite' },
    queries: { type: 'string', default: '200' },
    'path-chunks': { type: 'string', default: '550' },
    // pgvector builds the HNSW graph in memory only while it fits in maintenance_work_mem; past
    // that it inserts the remaining rows one by one into the on-disk index, which in PGlite's
    // WebAssembly costs several ms of CPU per row. 512-d graphs take ~3 KB per vector, so 100k
    // vectors need ~300 MB; PostgreSQL's default is 64 MB.
    'maintenance-work-mem': { type: 'string', default: '1GB' },
  },
});
const sizes = values.sizes!.split(',').map(Number);
const backends = new Set(values.backends!.split(','));
const queries = Number(values.queries);
const pathChunks = Number(values['path-chunks']);
const maintenanceWorkMem = values['maintenance-work-mem']!;
if (!/^\d+(kB|MB|GB)$/.test(maintenanceWorkMem)) throw new Error('--maintenance-work-mem like 1GB or 256MB');
const DIM = 512;
const TENANT = '00000000-0000-4000-8000-0000000000be';
const benchStarted = performance.now();
const log = (message: string) =>
  console.error(`[bench +${((performance.now() - benchStarted) / 1000).toFixed(0)}s] ${message}`);

// Gaussian unit vectors from the seeded rng: the same data on both backends.
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
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

type BenchDatabase = SqlDatabase & { asOwner<T>(w: (tx: SqlExecutor) => Promise<T>): Promise<T> };

interface Backend {
  name: string;
  open(): Promise<BenchDatabase>;
}

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

interface VectorRow {
  backend: string;
  size: number;
  ingestPerSec: number;
  buildMs: number;
  /** Process CPU seconds of the build: PGlite only (the server builds in its own process). */
  buildCpuS: number | null;
  p50: number;
  p95: number;
  exactP50: number;
  recall: number;
}

async function measureVectors(
  backend: string,
  db: BenchDatabase,
  size: number,
  data: number[][],
  probes: number[][],
): Promise<VectorRow> {
  await db.migrate([migration(size)]);
  const t0 = performance.now();
  const every = Math.max(1000, Math.floor(size / 10 / 1000) * 1000);
  for (let i = 0; i < size; i += 1000) {
    const batch = data.slice(i, i + 1000);
    await db.withScope({ tenantId: TENANT }, (tx) =>
      tx.query(
        `INSERT INTO bench.v${size} (id, tenant_id, embedding)
         SELECT u.id, $2, u.v::vector FROM unnest($1::int[], $3::text[]) AS u(id, v)`,
        [batch.map((_, j) => i + j), TENANT, batch.map(literal)],
      ),
    );
    if ((i + 1000) % every === 0)
      log(
        `${backend} ${fmt(size)}: inserted ${fmt(i + 1000)} rows (${fmt((i + 1000) / ((performance.now() - t0) / 1000))} rows/s)`,
      );
  }
  const ingestPerSec = size / ((performance.now() - t0) / 1000);
  log(
    `${backend} ${fmt(size)}: building the HNSW index (maintenance_work_mem ${maintenanceWorkMem}; PGlite blocks this thread meanwhile)…`,
  );
  const b0 = performance.now();
  const cpu0 = process.cpuUsage();
  await db.asOwner(async (tx) => {
    await tx.query(`SELECT set_config('maintenance_work_mem', $1, true)`, [maintenanceWorkMem]);
    await tx.query(`CREATE INDEX ON bench.v${size} USING hnsw (embedding vector_cosine_ops)`);
  });
  const buildMs = performance.now() - b0;
  const cpu = process.cpuUsage(cpu0);
  const buildCpuS = backend.startsWith('PGlite') ? (cpu.user + cpu.system) / 1e6 : null;
  log(`${backend} ${fmt(size)}: index built in ${(buildMs / 1000).toFixed(1)} s; ${queries} queries…`);

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
    buildCpuS,
    p50: percentile(annTimes, 50),
    p95: percentile(annTimes, 95),
    exactP50: percentile(exactTimes, 50),
    recall: hits / (probes.length * 10),
  };
}

// ---------------------------------------------------------------------------------------------
log('bringing up postgres (with pgvector)…');
const { env } = await up([engineByName('postgres')], {
  progress: (e, m) => console.error(`[infra] ${e}: ${m}`),
});

/** A fresh database on the server per use, dropped on dispose. */
async function serverDatabase(label: string): Promise<BenchDatabase> {
  const admin = new pg.Client({ connectionString: env.SOMA_DATABASE_OWNER_URL });
  await admin.connect();
  const name = `soma_bench_mem_${label}_${process.pid}`;
  await admin.query(`CREATE DATABASE ${name} OWNER soma_owner`);
  await admin.query(`GRANT CONNECT ON DATABASE ${name} TO soma_app`);
  await admin.end();
  const url = (u: string) => Object.assign(new URL(u), { pathname: `/${name}` }).toString();
  const db = new PostgresSqlDatabase({
    appPool: new pg.Pool({ connectionString: url(env.SOMA_DATABASE_URL!), max: 2 }),
    ownerPool: new pg.Pool({ connectionString: url(env.SOMA_DATABASE_OWNER_URL!), max: 1 }),
  });
  const dispose = db[Symbol.asyncDispose].bind(db);
  return Object.assign(db, {
    async [Symbol.asyncDispose]() {
      await dispose();
      const a = new pg.Client({ connectionString: env.SOMA_DATABASE_OWNER_URL });
      await a.connect();
      await a.query(`DROP DATABASE ${name} WITH (FORCE)`);
      await a.end();
    },
  });
}

const allBackends: Backend[] = [
  { name: 'PostgreSQL server', open: () => serverDatabase(String(Date.now())) },
  { name: 'PGlite (embedded)', open: () => PgliteSqlDatabase.open() },
];
const chosen = allBackends.filter((b) => backends.has(b.name.startsWith('PGlite') ? 'pglite' : 'server'));

const vectorRows: VectorRow[] = [];
for (const size of sizes) {
  log(`generating ${fmt(size)} clustered vectors…`);
  const centres = unitVectors(Math.max(10, Math.floor(size / 100)), 42);
  const data = clusteredVectors(size, centres, 43);
  const probes = clusteredVectors(queries, centres, 7);
  for (const backend of chosen) {
    const db = await backend.open();
    try {
      log(`${backend.name}, ${fmt(size)} vectors…`);
      vectorRows.push(await measureVectors(backend.name, db, size, data, probes));
      log(JSON.stringify(vectorRows.at(-1))); // long runs keep what they measured
    } finally {
      await db[Symbol.asyncDispose]();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Part 2: the whole memory path on real text (the labelled set's README passages, ~100 KB).
interface PathRow {
  what: string;
  items: number;
  perSec: number;
  note: string;
}
const pathRows: PathRow[] = [];
if (pathChunks > 0) {
  const corpus = JSON.parse(
    readFileSync(
      new URL('../../subgraphs/memory/test/fixtures/retrieval/corpus.json', import.meta.url),
      'utf8',
    ),
  ) as { text: string }[];
  const text = corpus.map((p) => p.text).join('\n\n');
  const chunkOptions = { size: 500, overlap: 50 };
  const perDocument = chunkText(text, chunkOptions).length;
  const documents = Math.max(1, Math.round(pathChunks / perDocument));
  const chunkTexts = Array.from({ length: documents }, () =>
    chunkText(text, chunkOptions).map((c) => c.text),
  ).flat();
  log(
    `whole path: ${documents} document(s) of ${fmt(text.length)} characters, ${perDocument} chunks of ≤500 characters each (${chunkTexts.length} chunks)`,
  );

  const timeEmbedding = async (what: string, model: EmbeddingModel, note: string) => {
    await model.embed(['warm-up: load the weights']);
    const t0 = performance.now();
    for (let i = 0; i < chunkTexts.length; i += perDocument)
      await model.embed(chunkTexts.slice(i, i + perDocument));
    const perSec = chunkTexts.length / ((performance.now() - t0) / 1000);
    pathRows.push({ what, items: chunkTexts.length, perSec, note });
    log(`${what}: ${perSec.toFixed(1)} chunks/s`);
  };
  const worker = new UniversalSentenceEncoderWorkerEmbeddingModel();
  const inThread = new UniversalSentenceEncoderEmbeddingModel();
  try {
    await timeEmbedding(
      'embedding only, USE lite in its worker thread (baseline)',
      worker,
      'the default adapter',
    );
    await timeEmbedding(
      'embedding only, USE lite in the calling thread',
      inThread,
      'blocks the event loop batch by batch',
    );
    const claims: VerifiedClaims = {
      subject: 'bench',
      tenantId: TENANT,
      roles: [],
      capabilities: ['memory:read', 'memory:write'],
      platformAdmin: false,
      issuer: 'https://bench.somaagent.invalid',
      expiresAt: Math.floor(Date.now() / 1000) + 86_400,
      authMethod: 'password',
    };
    for (const backend of chosen) {
      const db = await backend.open();
      try {
        await db.migrate(memoryMigrations);
        const memory = new MemoryService(db, worker, new PgVectorIndex());
        await memory.remember(claims, { text: 'warm-up' });
        const t0 = performance.now();
        for (let d = 0; d < documents; d++) {
          await memory.ingestDocument(claims, {
            title: `READMEs ${d}`,
            text,
            chunkSize: 500,
            chunkOverlap: 50,
          });
          log(`whole path, ${backend.name}: document ${d + 1}/${documents} stored`);
        }
        const perSec = chunkTexts.length / ((performance.now() - t0) / 1000);
        pathRows.push({
          what: `whole path: ingestDocument → ${backend.name}`,
          items: chunkTexts.length,
          perSec,
          note: 'chunk + embed (worker) + items, tsvector, vectors and HNSW in one transaction',
        });
        log(`whole path, ${backend.name}: ${perSec.toFixed(1)} chunks/s`);
      } finally {
        await db[Symbol.asyncDispose]();
      }
    }
  } finally {
    await worker[Symbol.asyncDispose]();
    await inThread[Symbol.asyncDispose]();
  }
}
for (const r of vectorRows.filter((r) => r.size === Math.min(...sizes))) {
  pathRows.push({
    what: `raw vector inserts → ${r.backend}`,
    items: r.size,
    perSec: r.ingestPerSec,
    note: 'part 1: pre-computed vectors, batches of 1,000, index built afterwards',
  });
}

// ---------------------------------------------------------------------------------------------
console.log(`\n## pgvector HNSW, ${DIM}-d cosine, k=10, ${queries} queries, seeded clustered unit vectors\n`);
console.log(
  `Baseline row per size: the PostgreSQL server. maintenance_work_mem ${maintenanceWorkMem} for the build.\n`,
);
console.log(
  '| backend | vectors | ingest rows/s | HNSW build | query p50 | query p95 | exact p50 | ANN recall@10 | p95 vs baseline | ingest vs baseline | build vs baseline |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of vectorRows) {
  const base = vectorRows.find((b) => b.size === r.size && b.backend.startsWith('PostgreSQL'));
  const ratio = (a: number, b: number | undefined) => (b ? `${(a / b).toFixed(2)}x` : 'n/a');
  console.log(
    `| ${r.backend} | ${fmt(r.size)} | ${fmt(r.ingestPerSec)} | ${(r.buildMs / 1000).toFixed(1)} s${r.buildCpuS === null ? '' : ` (${r.buildCpuS.toFixed(0)} s CPU)`} | ${r.p50.toFixed(2)} ms | ${r.p95.toFixed(2)} ms | ${r.exactP50.toFixed(2)} ms | ${r.recall.toFixed(3)} | ${ratio(r.p95, base?.p95)} | ${ratio(r.ingestPerSec, base?.ingestPerSec)} | ${ratio(r.buildMs, base?.buildMs)} |`,
  );
}
if (pathRows.length > 0) {
  console.log('\n## Ingestion throughput: whole memory path vs embedding alone vs raw vector inserts\n');
  const base = pathRows[0]!;
  console.log('| what | items | items/s | vs baseline | note |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of pathRows) {
    console.log(
      `| ${r.what} | ${fmt(r.items)} | ${r.perSec >= 100 ? fmt(r.perSec) : r.perSec.toFixed(1)} | ${(r.perSec / base.perSec).toFixed(2)}x | ${r.note} |`,
    );
  }
}
console.log(`\nTotal ${((performance.now() - benchStarted) / 1000).toFixed(0)} s.`);
process.exit(0);
