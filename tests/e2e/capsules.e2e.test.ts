import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { SqlCapsuleRunStore } from '@somaagent/capsules';
import { createPolicyDecider } from '@somaagent/policy';
import type { WorkflowEngine } from '@somaagent/ports';
import { createActivities } from '@somaagent/workers';
import { S3ObjectStorage } from '@somaagent/workflows/s3';
import { TemporalWorkflowEngine } from '@somaagent/workflows/temporal';
import { createTemporalWorker } from '@somaagent/workflows/temporal-worker';
import { Client, Connection } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  type Worker,
} from '@temporalio/worker';
import type { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../support/platform';

/**
 * The capsules domain through the router (one endpoint, real sockets), on both engines: the
 * embedded journal engine (the default) and Temporal (the harness dev server; a real Worker in
 * this process). Artifacts go to the harness's MinIO in both.
 */
const CHILD = `name: shout
version: 1.0.0
inputs: { type: object, required: [word], properties: { word: { type: string } } }
steps:
  - { id: echo, kind: toolCall, tool: soma.echo, args: { text: "{{inputs.word}}!" } }
outputs: { text: "{{steps.echo.output.text}}" }
`;
const MAIN = (version: string) => `name: brief
version: ${version}
description: Draft, approve, publish.
inputs:
  type: object
  required: [topic]
  properties: { topic: { type: string, minLength: 3 } }
steps:
  - id: draft
    kind: capsule
    capsule: shout
    version: 1.0.0
    inputs: { word: "{{inputs.topic}}" }
  - id: review
    kind: approval
    prompt: "Publish {{steps.draft.output.text}}?"
  - id: publish
    kind: artifact
    name: brief.md
    contentType: text/markdown
    content: "# {{steps.draft.output.text}}"
outputs: { headline: "{{steps.draft.output.text}}", approvedBy: "{{steps.review.output.by}}" }
`;
const SLOW = `name: slow
version: 1.0.0
steps:
  - { id: nap, kind: toolCall, tool: soma.sleep, args: { ms: 60000 } }
`;

const EVENTS = `subscription($r: ID!, $a: Int) { capsuleRun(runId: $r, afterSequence: $a) { sequence runId type stepKey payload occurredAt } }`;
interface RunEvent {
  sequence: number;
  type: string;
  stepKey: string | null;
  payload: Record<string, unknown>;
}

function collect(
  client: ReturnType<typeof createClient>,
  runId: string,
  after: number,
  onEvent?: (e: RunEvent) => void,
) {
  const events: RunEvent[] = [];
  const done = new Promise<RunEvent[]>((resolve, reject) => {
    client.subscribe(
      { query: EVENTS, variables: { r: runId, a: after } },
      {
        next: (v) => {
          if (v.errors) return reject(v.errors);
          const event = (v.data as { capsuleRun: RunEvent }).capsuleRun;
          events.push(event);
          onEvent?.(event);
        },
        error: reject,
        complete: () => resolve(events),
      },
    );
  });
  return { done, events };
}

async function s3Storage() {
  const s3 = inject('s3');
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  const bucket = `soma-e2e-${randomUUID().slice(0, 8)}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return { client, storage: new S3ObjectStorage(client, bucket) };
}

describe.each(['embedded', 'temporal'] as const)(
  'capsules through the router (%s engine, MinIO artifacts)',
  (mode) => {
    let t: TestPlatform;
    let a: Awaited<ReturnType<TestPlatform['createTenant']>>;
    let b: Awaited<ReturnType<TestPlatform['createTenant']>>;
    const cleanup: (() => Promise<void>)[] = [];

    beforeAll(async () => {
      const { client, storage } = await s3Storage();
      cleanup.push(async () => client.destroy());
      let workflowEngine: WorkflowEngine | 'embedded' = 'embedded';
      let temporal: { taskQueue: string; connection: Connection } | undefined;
      if (mode === 'temporal') {
        const { address, namespace } = inject('temporal');
        const connection = await Connection.connect({ address });
        const taskQueue = `soma-capsules-e2e-${randomUUID()}`;
        temporal = { taskQueue, connection };
        workflowEngine = new TemporalWorkflowEngine(new Client({ connection, namespace }), { taskQueue });
      }
      t = await startTestPlatform({ workflowEngine, objectStorage: storage });
      if (temporal) {
        const { address, namespace } = inject('temporal');
        Runtime.install({ logger: new DefaultLogger('WARN') });
        const native = await NativeConnection.connect({ address });
        const worker: Worker = await createTemporalWorker({
          connection: native,
          namespace,
          taskQueue: temporal.taskQueue,
          // The worker's activities write the same database the platform serves (distributed mode)
          // and gate steps with the same policy engine.
          activities: createActivities({
            store: new SqlCapsuleRunStore(t.db),
            storage,
            policy: createPolicyDecider({ evaluator: t.platform.policy }),
          }),
          workflowBundle: await bundleWorkflowCode({
            workflowsPath: fileURLToPath(new URL('../../workers/src/workflows.ts', import.meta.url)),
            logger: new DefaultLogger('WARN'),
          }),
        });
        const running = worker.run();
        const connection = temporal.connection;
        cleanup.unshift(async () => {
          worker.shutdown();
          await running;
          await native.close();
          await connection.close();
        });
      }
      a = await t.createTenant(`caps-a-${mode}`);
      b = await t.createTenant(`caps-b-${mode}`);
    }, 180_000);
    afterAll(async () => {
      await t?.[Symbol.asyncDispose]();
      for (const c of cleanup) await c();
    });

    it('publishes capsules: the schema, validation errors with lines, versions, conflicts', async () => {
      const schema = await t.gql('{ capsuleDefinitionSchema }', {}, a.adminToken);
      expect(schema.data.capsuleDefinitionSchema.title).toBe('SomaAgent capsule definition');

      const invalid = await t.gql(
        'mutation($s: String!) { createCapsule(source: $s) { id } }',
        { s: MAIN('1.0.0').replace('kind: approval', 'kind: approve') },
        a.adminToken,
      );
      expect(invalid.code).toBe('BAD_USER_INPUT');
      expect(invalid.errors![0]!.extensions).toMatchObject({
        reason: 'INVALID_DEFINITION',
        problems: [expect.objectContaining({ path: '/steps/1/kind', line: 15 })],
      });
      expect(invalid.errors![0]!.message).toContain('/steps/1/kind (line 15');

      const missingChild = await t.gql(
        'mutation($s: String!) { createCapsule(source: $s) { id } }',
        { s: MAIN('1.0.0') },
        a.adminToken,
      );
      expect(missingChild.errors![0]!.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        reason: 'UNKNOWN_CAPSULE',
        stepId: 'draft',
      });

      for (const s of [CHILD, MAIN('1.0.0'), SLOW]) {
        const r = await t.gql(
          'mutation($s: String!) { createCapsule(source: $s) { id name version } }',
          { s },
          a.adminToken,
        );
        expect(r.errors).toBeUndefined();
      }
      const again = await t.gql(
        'mutation($s: String!) { createCapsule(source: $s) { id } }',
        { s: CHILD },
        a.adminToken,
      );
      expect(again.errors![0]!.extensions).toMatchObject({ code: 'CONFLICT', reason: 'CAPSULE_EXISTS' });
      const same = await t.gql(
        'mutation($s: String!) { updateCapsule(source: $s) { id } }',
        { s: MAIN('1.0.0') },
        a.adminToken,
      );
      expect(same.errors![0]!.extensions).toMatchObject({
        code: 'CONFLICT',
        reason: 'VERSION_NOT_HIGHER',
        latest: '1.0.0',
      });
      const updated = await t.gql(
        'mutation($s: String!) { updateCapsule(source: $s) { version } }',
        { s: MAIN('1.1.0') },
        a.adminToken,
      );
      expect(updated.data.updateCapsule.version).toBe('1.1.0');

      const listed = await t.gql(
        '{ capsules(name: "brief") { totalCount edges { node { version } } } }',
        {},
        a.adminToken,
      );
      expect(listed.data.capsules.totalCount).toBe(2);
      const latest = await t.gql(
        '{ capsule(name: "brief") { version inputsSchema description } }',
        {},
        a.adminToken,
      );
      expect(latest.data.capsule).toMatchObject({
        version: '1.1.0',
        description: 'Draft, approve, publish.',
      });
      // Another tenant sees none of it.
      const theirs = await t.gql('{ capsules { totalCount } }', {}, b.adminToken);
      expect(theirs.data.capsules.totalCount).toBe(0);
      const unknown = await t.gql('{ capsule(name: "brief") { id } }', {}, b.adminToken);
      expect(unknown.errors![0]!.extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'UNKNOWN_CAPSULE' });
    });

    it('runs with live, resumable progress; approval; artifacts with expiring URLs; clear errors', async () => {
      const start =
        'mutation($i: StartCapsuleRunInput!) { startCapsuleRun(input: $i) { id status engine capsule { version } } }';
      const unknownVersion = await t.gql(
        start,
        { i: { name: 'brief', version: '9.9.9', inputs: { topic: 'x' } } },
        a.adminToken,
      );
      expect(unknownVersion.errors![0]!.extensions).toMatchObject({
        code: 'NOT_FOUND',
        reason: 'UNKNOWN_CAPSULE',
      });
      const badInputs = await t.gql(start, { i: { name: 'brief', inputs: { topic: 'ab' } } }, a.adminToken);
      expect(badInputs.errors![0]!.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        reason: 'INVALID_INPUTS',
        problems: [{ path: '/topic', message: 'must NOT have fewer than 3 characters' }],
      });

      const started = await t.gql(
        start,
        { i: { name: 'brief', inputs: { topic: 'durable runs' } } },
        a.adminToken,
      );
      expect(started.errors).toBeUndefined();
      const run = started.data.startCapsuleRun;
      expect(run).toMatchObject({
        status: 'RUNNING',
        engine: mode === 'embedded' ? 'journal' : 'temporal',
        capsule: { version: '1.1.0' },
      });

      const decide = (name: string, runId: string, stepKey: string, token = a.adminToken) =>
        t.gql(
          `mutation($i: DecideCapsuleStepInput!) { ${name}(input: $i) { id } }`,
          { i: { runId, stepKey, comment: 'lgtm' } },
          token,
        );
      const early = await decide('approveCapsuleStep', run.id, 'publish');
      expect(early.errors![0]!.extensions).toMatchObject({ code: 'CONFLICT', reason: 'STEP_NOT_AWAITING' });

      let approvedOnce = false;
      const live = collect(t.wsClient(a.adminToken), run.id, 0, (e) => {
        if (e.type === 'AWAITING_APPROVAL' && !approvedOnce) {
          approvedOnce = true;
          void decide('approveCapsuleStep', run.id, 'review');
        }
      });
      const events = await live.done;
      expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => i + 1));
      expect(events.map((e) => `${e.type}:${e.stepKey ?? ''}`)).toEqual([
        'STEP_STARTED:draft',
        'STEP_STARTED:draft/echo',
        'STEP_COMPLETED:draft/echo',
        'STEP_COMPLETED:draft',
        'AWAITING_APPROVAL:review',
        'APPROVAL_DECIDED:review',
        'STEP_STARTED:publish',
        'STEP_COMPLETED:publish',
        'RUN_COMPLETED:',
      ]);
      expect(events[4]!.payload).toEqual({ prompt: 'Publish durable runs!?' });
      expect(events.at(-1)!.payload).toEqual({
        output: { headline: 'durable runs!', approvedBy: a.adminId },
      });

      // Resuming after sequence 4 replays exactly the rest.
      const resumed = await collect(t.wsClient(a.adminToken), run.id, 4).done;
      expect(resumed).toEqual(events.slice(4));

      const approvedAgain = await decide('approveCapsuleStep', run.id, 'review');
      expect(approvedAgain.errors![0]!.extensions).toMatchObject({
        code: 'CONFLICT',
        reason: 'STEP_NOT_AWAITING',
        status: 'APPROVED',
      });

      const detail = await t.gql(
        'query($id: ID!) { capsuleRun(id: $id) { status output lastSequence steps { key kind status attempts } artifacts(expiresInSeconds: 2) { name contentType size downloadUrl urlExpiresAt } } }',
        { id: run.id },
        a.adminToken,
      );
      const got = detail.data.capsuleRun;
      expect(got).toMatchObject({
        status: 'COMPLETED',
        output: { headline: 'durable runs!' },
        lastSequence: 9,
      });
      expect(got.steps.map((s: { key: string; status: string }) => `${s.key}:${s.status}`)).toEqual([
        'draft:COMPLETED',
        'draft/echo:COMPLETED',
        'review:APPROVED',
        'publish:COMPLETED',
      ]);
      expect(got.artifacts).toHaveLength(1);
      const artifact = got.artifacts[0];
      expect(artifact).toMatchObject({ name: 'brief.md', contentType: 'text/markdown', size: 15 });
      expect(artifact.downloadUrl.startsWith(inject('s3').endpoint)).toBe(true);
      const download = await fetch(artifact.downloadUrl);
      expect(download.status).toBe(200);
      expect(await download.text()).toBe('# durable runs!');
      await new Promise((r) => setTimeout(r, 3_000));
      expect((await fetch(artifact.downloadUrl)).status).toBe(403);

      // Another tenant's run: NOT_FOUND everywhere, exactly like a missing one; nothing leaks.
      const foreign = await t.gql(
        'query($id: ID!) { capsuleRun(id: $id) { id } }',
        { id: run.id },
        b.adminToken,
      );
      expect(foreign.errors![0]!.extensions!.code).toBe('NOT_FOUND');
      const foreignCancel = await t.gql(
        'mutation($id: ID!) { cancelCapsuleRun(id: $id) { id } }',
        { id: run.id },
        b.adminToken,
      );
      expect(foreignCancel.errors![0]!.extensions!.code).toBe('NOT_FOUND');
      const foreignApprove = await decide('approveCapsuleStep', run.id, 'review', b.adminToken);
      expect(foreignApprove.errors![0]!.extensions!.code).toBe('NOT_FOUND');
      const foreignSub = await collect(t.wsClient(b.adminToken), run.id, 0).done.catch((e) => e);
      expect(JSON.stringify(foreignSub)).toContain('NOT_FOUND');
      const missing = await t.gql(
        'query($id: ID!) { capsuleRun(id: $id) { id } }',
        { id: randomUUID() },
        a.adminToken,
      );
      expect(missing.errors![0]!.extensions!.code).toBe('NOT_FOUND');
    });

    it('cancels a run: the step in flight is aborted, the run ends CANCELLED; cancelling again is a CONFLICT', async () => {
      const started = await t.gql(
        'mutation { startCapsuleRun(input: { name: "slow" }) { id } }',
        {},
        a.adminToken,
      );
      const runId = started.data.startCapsuleRun.id;
      const live = collect(t.wsClient(a.adminToken), runId, 0, (e) => {
        if (e.type === 'STEP_STARTED')
          void t.gql('mutation($id: ID!) { cancelCapsuleRun(id: $id) { id } }', { id: runId }, a.adminToken);
      });
      const events = await live.done;
      expect(events.at(-1)!.type).toBe('RUN_CANCELLED');
      const again = await t.gql(
        'mutation($id: ID!) { cancelCapsuleRun(id: $id) { id } }',
        { id: runId },
        a.adminToken,
      );
      expect(again.errors![0]!.extensions).toMatchObject({
        code: 'CONFLICT',
        reason: 'RUN_FINISHED',
        status: 'CANCELLED',
      });
      const runs = await t.gql(
        '{ capsuleRuns(status: CANCELLED) { totalCount edges { node { id error } } } }',
        {},
        a.adminToken,
      );
      expect(runs.data.capsuleRuns.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([runId]);
    });
  },
);
