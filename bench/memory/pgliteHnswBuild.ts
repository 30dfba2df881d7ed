// Why PGlite's HNSW build at 100k vectors "never finished": one PGlite, N uniform random 512-d
// vectors, then CREATE INDEX ... USING hnsw with the maintenance_work_mem given, printing wall and
// process CPU seconds (CPU time is what counts on a shared machine) and pgvector's notices.
//
//   nice -n 10 npx tsx bench/memory/pgliteHnswBuild.ts 40000 64MB
//   nice -n 10 npx tsx bench/memory/pgliteHnswBuild.ts 40000 1GB
//   nice -n 10 npx tsx bench/memory/pgliteHnswBuild.ts 10000 64MB before   # index first, rows after
//
// With 64 MB (PostgreSQL's default) pgvector prints "hnsw graph no longer fits into
// maintenance_work_mem after ~25,000 tuples" and inserts every later row one by one into the
// on-disk graph, which in WebAssembly costs several ms of CPU per row (see docs/memory.md).
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { prng as rng } from '../../tests/support/prng';

const DIM = 512;
const n = Number(process.argv[2] ?? 20000);
const maintenanceWorkMem = process.argv[3] ?? '64MB';
const mode = process.argv[4] === 'before' ? 'before' : 'after';

const r = rng(1);
const cpuSeconds = (since: NodeJS.CpuUsage) => {
  const c = process.cpuUsage(since);
  return (c.user + c.system) / 1e6;
};
const onNotice = (notice: { message?: string }) => console.error(`NOTICE ${notice.message}`);

const db = new PGlite({ extensions: { vector } });
await db.waitReady;
await db.exec(`CREATE EXTENSION vector; CREATE TABLE v (id int PRIMARY KEY, e vector(${DIM}))`);
await db.exec(`SET maintenance_work_mem = '${maintenanceWorkMem.replace(/[^0-9A-Za-z]/g, '')}'`);
const create = () => db.query('CREATE INDEX ON v USING hnsw (e vector_cosine_ops)', [], { onNotice });
if (mode === 'before') await create();
const t0 = performance.now();
const c0 = process.cpuUsage();
for (let i = 0; i < n; i += 1000) {
  const rows: string[] = [];
  for (let j = 0; j < 1000 && i + j < n; j++)
    rows.push(`[${Array.from({ length: DIM }, () => (r() - 0.5).toFixed(5)).join(',')}]`);
  await db.query('INSERT INTO v SELECT u.i, u.e::vector FROM unnest($1::int[], $2::text[]) u(i, e)', [
    rows.map((_, j) => i + j),
    rows,
  ]);
  if (mode === 'before')
    console.error(
      `${i + rows.length} rows: ${((performance.now() - t0) / 1000).toFixed(1)} s, ${cpuSeconds(c0).toFixed(1)} s CPU`,
    );
}
const insertS = (performance.now() - t0) / 1000;
const insertCpuS = cpuSeconds(c0);
const b0 = performance.now();
const c1 = process.cpuUsage();
if (mode === 'after') await create();
console.log(
  JSON.stringify({
    n,
    maintenanceWorkMem,
    mode,
    insertS,
    insertCpuS,
    buildS: (performance.now() - b0) / 1000,
    buildCpuS: cpuSeconds(c1),
  }),
);
await db.close();
