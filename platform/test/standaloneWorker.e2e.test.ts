import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { capsuleRunWorkflow } from '@somaagent/workers';
import { JournalWorkflowEngine } from '@somaagent/workflows';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../../tests/support/platform';
import { createTestDatabase, type TestPostgresSqlDatabase } from '../../tests/support/postgres';

/**
 * The standalone worker process (platform/src/worker.ts) runs what the embedded platform runs:
 * the platform here only starts runs (its journal engine has no worker), and the worker process,
 * on the same PostgreSQL database, executes a capsule with a memory-recall step (memory module
 * created in the worker, reached through the capsuleRecall bridge), a model-call step (the
 * harness's llama.cpp server) and an artifact step.
 */
const WORKER = fileURLToPath(new URL('../src/worker.ts', import.meta.url));
const llm = inject('llm');

const CAPSULE = `name: worker-wiring
version: 1.0.0
capabilities: [memory:read]
inputs: { type: object, required: [topic], properties: { topic: { type: string } } }
steps:
  - { id: recall, kind: memoryRecall, query: "{{inputs.topic}}", k: 3 }
  - { id: answer, kind: modelCall, prompt: "Summarise: {{steps.recall.output.items.0.text}}", maxTokens: 8 }
  - { id: note, kind: artifact, name: note.txt, content: "{{steps.recall.output.items.0.text}}" }
outputs: { top: "{{steps.recall.output.items.0.text}}", finish: "{{steps.answer.output.finishReason}}" }
`;
const RUN = `query($id: ID!) { capsuleRun(id: $id) { status error output steps { key kind status output error } } }`;

function startWorker(
  env: Record<string, string | undefined>,
): Promise<{ child: ChildProcess; output: () => string }> {
  const merged: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...process.env, ...env }))
    if (value !== undefined) merged[key] = value;
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    env: merged,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker not ready:\n${output}`)), 90_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/worker ready/.test(output)) {
        clearTimeout(timer);
        resolve({ child, output: () => output });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`worker exited (${code ?? signal}) before ready:\n${output}`));
    });
  });
}

describe('the standalone worker process, wired as the embedded platform', () => {
  let db: TestPostgresSqlDatabase;
  let t: TestPlatform;
  let worker: ChildProcess | undefined;
  let output: () => string = () => '';
  let tmp: string;

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'soma-worker-'));
    db = await createTestDatabase();
    // Client side only: this process starts runs; the worker process executes them.
    const engine = new JournalWorkflowEngine(db, {
      workflows: { capsuleRun: capsuleRunWorkflow },
      activities: {},
    });
    t = await startTestPlatform({ db, workflowEngine: engine, artifactsDir: join(tmp, 'unused') });
    const url = new URL(inject('postgres').appUrl);
    url.pathname = `/${db.databaseName}`;
    const started = await startWorker({
      SOMA_WORKER_ENGINE: 'journal',
      SOMA_DATABASE_URL: url.toString(),
      SOMA_ARTIFACTS_DIR: join(tmp, 'artifacts'),
      // Artifacts in the folder above: none of the harness's S3 variables reach the worker.
      SOMA_S3_ENDPOINT: undefined,
      SOMA_S3_BUCKET: undefined,
      SOMA_S3_ACCESS_KEY_ID: undefined,
      SOMA_S3_SECRET_ACCESS_KEY: undefined,
      SOMA_OPA_URL: undefined,
      SOMA_KAFKA_BROKERS: undefined,
      SOMA_REDIS_URL: undefined,
      SOMA_EMBEDDINGS_BASE_URL: undefined,
      SOMA_LLM_BASE_URL: llm.baseUrl,
      SOMA_LLM_MODEL: llm.model,
      SOMA_LLM_API_KEY: llm.apiKey,
    });
    worker = started.child;
    output = started.output;
  }, 240_000);
  afterAll(async () => {
    if (worker && worker.exitCode === null) {
      const exited = new Promise((resolve) => worker!.once('exit', resolve));
      worker.kill('SIGTERM');
      await exited;
    }
    await t?.[Symbol.asyncDispose]();
    await db?.[Symbol.asyncDispose]();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('runs a memory-recall step, a model-call step and an artifact step', async () => {
    const a = await t.createTenant('worker-wiring');
    const remembered = await t.gql(
      'mutation($i: RememberInput!) { remember(input: $i) { id } }',
      { i: { text: 'The launch codename is marmalade sunrise.' } },
      a.adminToken,
    );
    expect(remembered.errors).toBeUndefined();
    const created = await t.gql(
      'mutation($s: String!) { createCapsule(source: $s) { id } }',
      { s: CAPSULE },
      a.adminToken,
    );
    expect(created.errors).toBeUndefined();
    const started = await t.gql(
      'mutation($i: StartCapsuleRunInput!) { startCapsuleRun(input: $i) { id } }',
      { i: { name: 'worker-wiring', inputs: { topic: 'launch codename' } } },
      a.adminToken,
    );
    expect(started.errors).toBeUndefined();
    const id = started.data.startCapsuleRun.id as string;

    let run:
      | {
          status: string;
          error: string | null;
          output: Record<string, unknown>;
          steps: { key: string; status: string; output: Record<string, unknown> }[];
        }
      | undefined;
    for (const deadline = Date.now() + 90_000; Date.now() < deadline; ) {
      run = (await t.gql(RUN, { id }, a.adminToken)).data?.capsuleRun;
      if (run && ['COMPLETED', 'FAILED', 'CANCELLED'].includes(run.status)) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(run, output()).toMatchObject({ status: 'COMPLETED', error: null });
    expect(run!.output.top).toBe('The launch codename is marmalade sunrise.');
    const step = (key: string) => run!.steps.find((s) => s.key === key)!;
    expect(step('recall')).toMatchObject({ status: 'COMPLETED' });
    expect((step('recall').output.items as { id: string }[])[0]!.id).toBe(remembered.data.remember.id);
    // The model's text is meaningless (an untrained test model): the mechanics are what count.
    expect(step('answer')).toMatchObject({
      status: 'COMPLETED',
      output: {
        text: expect.any(String),
        completionTokens: expect.any(Number),
        finishReason: expect.any(String),
      },
    });
    expect(run!.output.finish).toBe(step('answer').output.finishReason);
    const note = step('note').output as { objectKey: string };
    expect(await readFile(join(tmp, 'artifacts', note.objectKey), 'utf8')).toBe(
      'The launch codename is marmalade sunrise.',
    );
  }, 120_000);
});
