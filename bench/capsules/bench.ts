/**
 * Capsule-run engine overhead: a no-op step (soma.echo, which still records its step, events and
 * tool invocation in PostgreSQL) and runs/second of a 10-step capsule, on the embedded journal
 * engine (PGlite and the PostgreSQL server) and on Temporal (harness dev server, in-process
 * worker, same activities on the PostgreSQL server). One run; ratios against the embedded
 * engine on PGlite (the default mode), measured in the same run.
 *
 *   npx tsx bench/capsules/bench.ts [runs=20] [concurrency=5]
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { CapsuleDefinition } from '@somaagent/capsule-contract';
import type { SqlDatabase, WorkflowEngine } from '@somaagent/ports';
import { PgliteSqlDatabase, PostgresSqlDatabase } from '@somaagent/postgres';
import { createActivities } from '@somaagent/workers';
import { FileSystemObjectStorage, JournalWorkflowEngine, workflowsMigrations } from '@somaagent/workflows';
import { TemporalWorkflowEngine } from '@somaagent/workflows/temporal';
import { createTemporalWorker } from '@somaagent/workflows/temporal-worker';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import pg from 'pg';
import { engineByName } from '../../scripts/infra/engines/index';
import { up } from '../../scripts/infra/infra';
import { capsulesMigrations } from '../../subgraphs/capsules/src/migrations';
import { SqlCapsuleRunStore } from '../../subgraphs/capsules/src/SqlCapsuleRunStore';
import { capsuleRunWorkflow } from '../../workers/src/capsuleRunWorkflow';
import { seedRun } from '../../workers/test/support';

const RUNS = Number(process.argv[2] ?? 20);
const CONCURRENCY = Number(process.argv[3] ?? 5);

const capsule = (steps: number): CapsuleDefinition => ({
  name: `noop-${steps}`,
  version: '1.0.0',
  steps: Array.from({ length: steps }, (_, i) => ({
    id: `s${i}`,
    kind: 'toolCall',
    tool: 'soma.echo',
    args: { i },
  })),
});

interface Row {
  engine: string;
  run1Ms: number;
  run10Ms: number;
  perStepMs: number;
  runsPerSec: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(name: string, engine: WorkflowEngine, db: SqlDatabase): Promise<Row> {
  const tenant = randomUUID();
  const once = async (def: CapsuleDefinition) => {
    const input = await seedRun(db, tenant, def, {}, {}, engine.kind);
    const t0 = performance.now();
    await engine.start('capsuleRun', input.runId, input);
    await engine.result(input.runId);
    return performance.now() - t0;
  };
  for (let i = 0; i < 2; i++) await once(capsule(10)); // warm-up
  const one: number[] = [];
  const ten: number[] = [];
  for (let i = 0; i < Math.max(5, RUNS / 2); i++) {
    one.push(await once(capsule(1)));
    ten.push(await once(capsule(10)));
  }
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < RUNS) await once(capsule(10));
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const row = {
    engine: name,
    run1Ms: median(one),
    run10Ms: median(ten),
    perStepMs: (median(ten) - median(one)) / 9,
    runsPerSec: RUNS / seconds,
  };
  console.error(`[bench] ${JSON.stringify(row)}`);
  return row;
}

console.error('[bench] bringing up postgres and temporal…');
const { env } = await up([engineByName('postgres'), engineByName('temporal')], {
  progress: (e, m) => console.error(`[infra] ${e}: ${m}`),
});
const storage = await FileSystemObjectStorage.open(`/tmp/soma-bench-capsules-${process.pid}`);
const rows: Row[] = [];

const admin = new pg.Client({ connectionString: env.SOMA_DATABASE_OWNER_URL });
await admin.connect();
const dbName = `soma_bench_caps_${process.pid}`;
await admin.query(`CREATE DATABASE ${dbName} OWNER soma_owner`);
await admin.query(`GRANT CONNECT ON DATABASE ${dbName} TO soma_app`);
const url = (u: string) => Object.assign(new URL(u), { pathname: `/${dbName}` }).toString();
const server = new PostgresSqlDatabase({
  appPool: new pg.Pool({ connectionString: url(env.SOMA_DATABASE_URL!), max: 8 }),
  ownerPool: new pg.Pool({ connectionString: url(env.SOMA_DATABASE_OWNER_URL!), max: 1 }),
});
await server.migrate([...workflowsMigrations, ...capsulesMigrations]);

try {
  const pglite = await PgliteSqlDatabase.open(undefined, { vector: false });
  await pglite.migrate([...workflowsMigrations, ...capsulesMigrations]);
  for (const [name, db] of [
    ['journal on PGlite (embedded default)', pglite],
    ['journal on PostgreSQL server', server],
  ] as const) {
    const engine = new JournalWorkflowEngine(db, {
      workflows: { capsuleRun: capsuleRunWorkflow },
      activities: createActivities({ store: new SqlCapsuleRunStore(db), storage }),
    }).startWorker();
    rows.push(await measure(name, engine, db));
    await engine[Symbol.asyncDispose]();
  }
  await pglite[Symbol.asyncDispose]();

  Runtime.install({ logger: new DefaultLogger('WARN') });
  const taskQueue = `soma-bench-${randomUUID()}`;
  const native = await NativeConnection.connect({ address: env.SOMA_TEMPORAL_ADDRESS! });
  const worker = await createTemporalWorker({
    connection: native,
    namespace: env.SOMA_TEMPORAL_NAMESPACE!,
    taskQueue,
    activities: createActivities({ store: new SqlCapsuleRunStore(server), storage }),
    workflowBundle: await bundleWorkflowCode({
      workflowsPath: fileURLToPath(new URL('../../workers/src/workflows.ts', import.meta.url)),
      logger: new DefaultLogger('WARN'),
    }),
  });
  const running = worker.run();
  const connection = await Connection.connect({ address: env.SOMA_TEMPORAL_ADDRESS! });
  const engine = new TemporalWorkflowEngine(
    new Client({ connection, namespace: env.SOMA_TEMPORAL_NAMESPACE! }),
    {
      taskQueue,
    },
  );
  rows.push(await measure('Temporal dev server', engine, server));
  worker.shutdown();
  await running;
  await native.close();
  await connection.close();
} finally {
  await server[Symbol.asyncDispose]();
  await admin.query(`DROP DATABASE ${dbName} WITH (FORCE)`);
  await admin.end();
  await storage[Symbol.asyncDispose]();
}

const base = rows[0]!;
console.log(
  `\n## capsule runs: no-op steps (soma.echo), ${RUNS} runs of 10 steps at concurrency ${CONCURRENCY}\n`,
);
console.log(
  '| engine | 1-step run p50 ms | 10-step run p50 ms | per no-op step ms | ×baseline | 10-step runs/s | ×baseline |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  console.log(
    `| ${r.engine} | ${r.run1Ms.toFixed(1)} | ${r.run10Ms.toFixed(1)} | ${r.perStepMs.toFixed(2)} | ${(r.perStepMs / base.perStepMs).toFixed(2)} | ${r.runsPerSec.toFixed(2)} | ${(r.runsPerSec / base.runsPerSec).toFixed(2)} |`,
  );
}
