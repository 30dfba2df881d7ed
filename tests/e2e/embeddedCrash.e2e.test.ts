import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PgliteSqlDatabase } from '@somaagent/postgres';
import { createClient } from 'graphql-ws';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { runRow, until } from '../../workers/test/support';
import { ADMIN_PASSWORD, gql } from '../support/platform';
import { freePort, type StartedProcess, startProcess } from '../support/startProcess';

/**
 * Durability of the embedded default: `npm start` (PGlite data dir, the JournalWorkflowEngine's
 * worker in the platform process) is SIGKILLed — the whole process group, so the node process
 * holding PGlite dies without closing it — while the middle of three tool steps runs. `npm start`
 * on the same data dir must resume the run to completion, with every tool side effect exactly
 * once and nothing stored before the kill lost. Checked through the graph, then by opening the
 * PGlite data dir after a clean stop.
 */
const root = resolve(import.meta.dirname, '../..');
const CAPSULE = `name: crash-me
version: 1.0.0
steps:
  - { id: before, kind: toolCall, tool: soma.echo, args: { n: 1 } }
  - id: slow
    kind: toolCall
    tool: soma.sleep
    args: { ms: 4000 }
    retry: { maximumAttempts: 5, initialIntervalMs: 200 }
  - { id: after, kind: toolCall, tool: soma.echo, args: { n: 3 } }
outputs: { slept: "{{steps.slow.output.sleptMs}}" }
`;
const EVENTS = `subscription($r: ID!, $a: Int) { capsuleRun(runId: $r, afterSequence: $a) { sequence type stepKey payload occurredAt } }`;
interface RunEvent {
  sequence: number;
  type: string;
  stepKey: string | null;
  payload: Record<string, unknown>;
  occurredAt: string;
}

/** The data dir of the running test (one per test). */
let dataDir: string;
const dataDirs: string[] = [];
const processes: StartedProcess[] = [];

/** This process's env minus every SOMA_* setting (the harness exports its servers'): embedded mode. */
function embeddedEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('SOMA_')) delete env[key];
  return { ...env, ...extra };
}

async function npmStart(port: number): Promise<{ server: StartedProcess; url: string; wsUrl: string }> {
  const server = await startProcess('npm', ['start', '--silent'], {
    cwd: root,
    env: embeddedEnv({ SOMA_PORT: String(port), SOMA_DATA_DIR: dataDir }),
    readyLine: /Platform admin key.*\n/, // the last line printed at start-up
    timeoutMs: 90_000,
  });
  processes.push(server);
  const url = /GraphQL endpoint: (\S+)/.exec(server.output())![1]!;
  const wsUrl = /subscriptions: (ws:\S+)\)/.exec(server.output())![1]!;
  return { server, url, wsUrl };
}

/** Live processes of a process group (zombies count as dead), read from /proc. */
function groupMembers(pgid: number): { pid: number; cmdline: string }[] {
  const members: { pid: number; cmdline: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) !== pgid || state === 'Z') continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      members.push({ pid: Number(entry), cmdline });
    } catch {
      // exited while we looked
    }
  }
  return members;
}

/** Paths of a process's open file descriptors. */
function openFiles(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      try {
        return [readlinkSync(`/proc/${pid}/fd/${fd}`)];
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}

const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
};

/** Quickstart steps 1-3 against a fresh `npm start`: platform token, tenant with its admin, admin token. */
async function bootstrap(url: string, slug: string): Promise<{ tenantId: string; adminToken: string }> {
  const call = (query: string, variables: Record<string, unknown> = {}, token?: string) =>
    gql(url, query, variables, token);
  const platformKey = readFileSync(join(dataDir, 'platform-admin-key'), 'utf8').trim();
  const platformToken = (
    await call('mutation($s: String!) { exchangeApiKey(secret: $s) { accessToken } }', { s: platformKey })
  ).data.exchangeApiKey.accessToken as string;
  const created = await call(
    'mutation($i: CreateTenantInput!) { createTenant(input: $i) { tenant { id } admin { id } } }',
    {
      i: {
        slug,
        name: `Tenant ${slug}`,
        adminEmail: `admin@${slug}.test`,
        adminPassword: ADMIN_PASSWORD,
        adminDisplayName: 'Admin',
      },
    },
    platformToken,
  );
  expect(created.errors).toBeUndefined();
  const signedIn = await call('mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }', {
    i: { tenantSlug: slug, email: `admin@${slug}.test`, password: ADMIN_PASSWORD },
  });
  expect(signedIn.errors).toBeUndefined();
  return { tenantId: created.data.createTenant.tenant.id, adminToken: signedIn.data.signIn.accessToken };
}

/**
 * SIGKILLs the whole process group of an `npm start` (npm → sh → tsx → node) and waits until
 * every member is dead. Checks first that exactly one member, a node process running
 * scripts/start.ts, has files of the PGlite data dir open; then waits for `when`.
 */
async function killGroup(server: StartedProcess, when: Promise<unknown> = Promise.resolve()) {
  const pgid = server.child.pid!;
  const members = groupMembers(pgid);
  const pgliteDir = join(dataDir, 'pglite');
  const held = (pid: number) => openFiles(pid).filter((f) => f.startsWith(pgliteDir));
  const holders = members.filter((m) => held(m.pid).length > 0);
  expect(holders, `the process with ${pgliteDir} open among ${JSON.stringify(members)}`).toHaveLength(1);
  const holder = holders[0]!;
  expect(holder.cmdline).toMatch(/node .*scripts\/start\.ts/);
  const heldAtKill = held(holder.pid).length;
  await when; // /proc is read first, so the kill comes right after `when`
  const exited = new Promise((r) => server.child.once('exit', r));
  const killedAt = Date.now();
  process.kill(-pgid, 'SIGKILL');
  await exited;
  await until(async () => members.every((m) => !alive(m.pid)), 10_000, 'every process of the group to die');
  return {
    killedAt,
    describe: `process group ${pgid} (${members.map((m) => m.pid).join(', ')}; the node process holding PGlite: ${holder.pid}, ${heldAtKill} files of it open)`,
  };
}

/** Collects a run's events from the subscription until the run ends or the socket drops. */
function subscribe(
  wsUrl: string,
  token: string,
  runId: string,
  after: number,
  onEvent?: (event: RunEvent, all: RunEvent[]) => void,
) {
  const events: RunEvent[] = [];
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  const done = new Promise<RunEvent[]>((resolve, reject) => {
    client.subscribe(
      { query: EVENTS, variables: { r: runId, a: after } },
      {
        next: (v) => {
          if (v.errors) return reject(new Error(JSON.stringify(v.errors)));
          events.push((v.data as { capsuleRun: RunEvent }).capsuleRun);
          onEvent?.(events.at(-1)!, events);
        },
        error: reject,
        complete: () => resolve(events),
      },
    );
  });
  done.catch(() => undefined); // the first subscription ends with the killed server
  return { events, done, client };
}

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'soma-embedded-crash-'));
  dataDirs.push(dataDir);
});

afterAll(async () => {
  for (const p of processes) {
    const { child } = p;
    if (child.exitCode === null && child.signalCode === null) await p[Symbol.asyncDispose]();
    else {
      // Already gone (the SIGKILLed one): make sure nothing of its group outlives the test.
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // the group is gone
      }
    }
  }
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

describe('SIGKILL of `npm start` (embedded: PGlite + journal engine) in the middle of a capsule run', () => {
  it('resumes the run on restart on the same data dir: each side effect once, nothing lost', async () => {
    const port = await freePort();
    // ---- First life: bootstrap as the quickstart does, publish the capsule, start a run.
    const first = await npmStart(port);
    const call = (query: string, variables: Record<string, unknown> = {}, token?: string) =>
      gql(first.url, query, variables, token);
    const { tenantId, adminToken } = await bootstrap(first.url, 'crash');
    const user = await call(
      'mutation($i: CreateUserInput!) { createUser(input: $i) { id } }',
      { i: { email: 'ada@crash.test', displayName: 'Ada', password: 'analytical engine 1843' } },
      adminToken,
    );
    expect(user.errors).toBeUndefined();
    const published = await call(
      'mutation($s: String!) { createCapsule(source: $s) { id version } }',
      { s: CAPSULE },
      adminToken,
    );
    expect(published.errors).toBeUndefined();
    const started = await call(
      'mutation($i: StartCapsuleRunInput!) { startCapsuleRun(input: $i) { id status engine } }',
      { i: { name: 'crash-me', inputs: {} } },
      adminToken,
    );
    expect(started.errors).toBeUndefined();
    expect(started.data.startCapsuleRun).toMatchObject({ status: 'RUNNING', engine: 'journal' });
    const runId = started.data.startCapsuleRun.id as string;
    const live = subscribe(first.wsUrl, adminToken, runId, 0);

    const RUN = `query($id: ID!) { capsuleRun(id: $id) { status output error lastSequence steps { key status attempts } } }`;
    // The slow step is executing in the platform process: kill it there and then.
    const atCrash = await until(
      async () => {
        const r = await call(RUN, { id: runId }, adminToken);
        const run = r.data?.capsuleRun;
        return run?.steps.some(
          (s: { key: string; status: string }) => s.key === 'slow' && s.status === 'RUNNING',
        )
          ? run
          : undefined;
      },
      60_000,
      'the slow step to start',
    );
    expect(atCrash.status).toBe('RUNNING');
    expect(atCrash.steps).toEqual([
      { key: 'before', status: 'COMPLETED', attempts: 1 },
      { key: 'slow', status: 'RUNNING', attempts: 1 },
    ]);
    await until(async () => live.events.length >= atCrash.lastSequence, 5_000, 'the live events so far');

    const killed = await killGroup(first.server);
    const killedAt = killed.killedAt;
    await live.done.catch(() => undefined);
    console.log(
      `[embedded crash] SIGKILLed ${killed.describe} ` +
        `with the run RUNNING, slow step in flight; events seen live: ${live.events.map((e) => `${e.type}:${e.stepKey ?? ''}`).join(', ')}`,
    );
    const beforeCrash = [...live.events];
    expect(beforeCrash.map((e) => `${e.type}:${e.stepKey}`)).toEqual([
      'STEP_STARTED:before',
      'STEP_COMPLETED:before',
      'STEP_STARTED:slow',
    ]);
    // No lock or pid file keeps the next process out (PGlite runs single-user in the process).
    expect(existsSync(join(dataDir, 'pglite'))).toBe(true);

    // ---- Second life: same data dir, same port.
    const second = await npmStart(port);
    const restartedAt = Date.now();
    expect(second.server.output()).toContain(`Platform admin key: in ${join(dataDir, 'platform-admin-key')}`);
    const call2 = (query: string, variables: Record<string, unknown> = {}, token?: string) =>
      gql(second.url, query, variables, token);
    // The token issued before the kill is still accepted: the signing keys survived too.
    const viewer = await call2('{ viewer { tenant { slug } } users { totalCount } }', {}, adminToken);
    expect(viewer.errors).toBeUndefined();
    expect(viewer.data).toMatchObject({ viewer: { tenant: { slug: 'crash' } }, users: { totalCount: 2 } });

    const done = await until(
      async () => {
        const run = (await call2(RUN, { id: runId }, adminToken)).data?.capsuleRun;
        return run && run.status !== 'RUNNING' ? run : undefined;
      },
      60_000,
      'the run to finish after the restart',
    );
    const completedAfterMs = Date.now() - killedAt;
    expect(done).toMatchObject({ status: 'COMPLETED', output: { slept: 4000 }, error: null });
    expect(done.steps.map((s: { key: string; status: string }) => `${s.key}:${s.status}`)).toEqual([
      'before:COMPLETED',
      'slow:COMPLETED',
      'after:COMPLETED',
    ]);
    // The whole history replays from sequence 1: the events written before the kill unchanged,
    // no gap, the interrupted step started again, one RUN_COMPLETED.
    const replay = subscribe(second.wsUrl, adminToken, runId, 0);
    const all = await replay.done;
    await replay.client.dispose();
    await live.client.dispose();
    expect(all.slice(0, beforeCrash.length)).toEqual(beforeCrash);
    expect(all.map((e) => e.sequence)).toEqual(all.map((_, i) => i + 1));
    expect(all.map((e) => `${e.type}:${e.stepKey ?? ''}`)).toEqual([
      'STEP_STARTED:before',
      'STEP_COMPLETED:before',
      'STEP_STARTED:slow',
      'STEP_STARTED:slow',
      'STEP_COMPLETED:slow',
      'STEP_STARTED:after',
      'STEP_COMPLETED:after',
      'RUN_COMPLETED:',
    ]);
    expect(done.lastSequence).toBe(all.length);

    // ---- Clean stop, then the data dir itself.
    await second.server[Symbol.asyncDispose]();
    const db = await PgliteSqlDatabase.open(join(dataDir, 'pglite'));
    try {
      const row = await runRow(db, tenantId, runId);
      const attemptsOf = (key: string) => row.attempts.filter((a) => a.step_key === key).length;
      const owner = await db.asOwner(async (tx) => ({
        tenants: (await tx.query<{ slug: string }>('SELECT slug FROM identity.tenants ORDER BY slug')).rows,
        users: (
          await tx.query<{ email: string }>(
            'SELECT email FROM identity.users WHERE tenant_id = $1 ORDER BY email',
            [tenantId],
          )
        ).rows,
        capsules: (
          await tx.query<{ name: string; version: string }>(
            'SELECT name, version FROM capsules.capsules WHERE tenant_id = $1',
            [tenantId],
          )
        ).rows,
        invocations: (
          await tx.query<{ step_key: string; n: number }>(
            'SELECT step_key, count(*)::int AS n FROM capsules.tool_invocations WHERE run_id = $1 GROUP BY step_key ORDER BY step_key',
            [runId],
          )
        ).rows,
        execution: (
          await tx.query<{ status: string }>(
            'SELECT status FROM workflows.executions WHERE workflow_id = $1',
            [runId],
          )
        ).rows,
      }));
      console.log(
        `[embedded crash] restarted in ${restartedAt - killedAt} ms (kill to ready line; its own start-up ${/ready in (\d+) ms/.exec(second.server.output())?.[1]} ms, the first start on the empty data dir ${/ready in (\d+) ms/.exec(first.server.output())?.[1]} ms); run COMPLETED ${completedAfterMs} ms after the kill; ` +
          `tool_invocations per step: ${JSON.stringify(Object.fromEntries(owner.invocations.map((i) => [i.step_key, Number(i.n)])))}; ` +
          `executions: before=${attemptsOf('before')} slow=${attemptsOf('slow')} after=${attemptsOf('after')}; events: ${all.length}`,
      );
      expect(owner.tenants).toEqual([{ slug: 'crash' }]);
      expect(owner.users).toEqual([{ email: 'ada@crash.test' }, { email: 'admin@crash.test' }]);
      expect(owner.capsules).toEqual([{ name: 'crash-me', version: '1.0.0' }]);
      expect(owner.execution).toEqual([{ status: 'COMPLETED' }]);
      // Exactly once: one row per step, three in all.
      expect(owner.invocations).toEqual([
        { step_key: 'after', n: 1 },
        { step_key: 'before', n: 1 },
        { step_key: 'slow', n: 1 },
      ]);
      expect(row.status).toBe('COMPLETED');
      expect(attemptsOf('before')).toBe(1); // finished before the kill: never executed again
      expect(attemptsOf('slow')).toBeGreaterThanOrEqual(2); // interrupted: executed again after the restart
      expect(attemptsOf('after')).toBe(1);
      expect(row.events.map((e) => e.type)).toEqual(all.map((e) => e.type));
    } finally {
      await db[Symbol.asyncDispose]();
    }
  }, 240_000);

  it('kills it during a burst of commits (99 no-op steps): no committed step lost, only the step at the kill re-run, each side effect once', async () => {
    const STEPS = 99; // + the warm-up: the schema's maximum of 100
    const burst = `name: burst
version: 1.0.0
steps:
  - { id: warmup, kind: toolCall, tool: soma.sleep, args: { ms: 1500 } }
${Array.from({ length: STEPS }, (_, i) => `  - { id: s${i}, kind: toolCall, tool: soma.echo, args: { i: ${i} } }`).join('\n')}
outputs: { last: "{{steps.s${STEPS - 1}.output.i}}" }
`;
    const port = await freePort();
    const first = await npmStart(port);
    const { tenantId, adminToken } = await bootstrap(first.url, 'burst');
    const published = await gql(
      first.url,
      'mutation($s: String!) { createCapsule(source: $s) { id } }',
      { s: burst },
      adminToken,
    );
    expect(published.errors).toBeUndefined();
    const started = await gql(
      first.url,
      'mutation($i: StartCapsuleRunInput!) { startCapsuleRun(input: $i) { id } }',
      { i: { name: 'burst', inputs: {} } },
      adminToken,
    );
    expect(started.errors).toBeUndefined();
    const runId = started.data.startCapsuleRun.id as string;
    // The warm-up step (1.5 s) gives the subscription time to be live; then the no-op steps commit
    // back to back (~10 ms each here). The stream lags the database by hundreds of ms under such a
    // burst, so the kill is timed from the warm-up's start (database clock, same machine): 250 ms
    // into the burst. That it landed mid-run is checked below from the stored events.
    let warmupStarted: (at: number) => void = () => undefined;
    const warmup = new Promise<number>((resolve) => {
      warmupStarted = resolve;
    });
    const completedKeys = (events: RunEvent[]) =>
      events.filter((e) => e.type === 'STEP_COMPLETED' && e.stepKey !== 'warmup').map((e) => e.stepKey!);
    const live = subscribe(first.wsUrl, adminToken, runId, 0, (e) => {
      if (e.type === 'STEP_STARTED' && e.stepKey === 'warmup') warmupStarted(Date.parse(e.occurredAt));
    });
    const killed = await killGroup(
      first.server,
      Promise.race([
        warmup.then((at) => new Promise((r) => setTimeout(r, at + 1_750 - Date.now()))),
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('the warm-up step did not start in 60 s')), 60_000),
        ),
      ]),
    );
    const seen = { completed: completedKeys(live.events), events: live.events.length };
    await live.done.catch(() => undefined);
    expect(live.events.map((e) => e.type)).not.toContain('RUN_COMPLETED');

    const second = await npmStart(port);
    const done = await until(
      async () => {
        const run = (
          await gql(
            second.url,
            'query($id: ID!) { capsuleRun(id: $id) { status output } }',
            { id: runId },
            adminToken,
          )
        ).data?.capsuleRun;
        return run && run.status !== 'RUNNING' ? run : undefined;
      },
      60_000,
      'the run to finish after the restart',
    );
    const completedAfterMs = Date.now() - killed.killedAt;
    expect(done).toEqual({ status: 'COMPLETED', output: { last: STEPS - 1 } });
    const replay = subscribe(second.wsUrl, adminToken, runId, 0);
    const all = await replay.done;
    await replay.client.dispose();
    await live.client.dispose();
    expect(all.map((e) => e.sequence)).toEqual(all.map((_, i) => i + 1));
    expect(all.slice(0, live.events.length)).toEqual(live.events);
    expect(all.at(-1)?.type).toBe('RUN_COMPLETED');

    await second.server[Symbol.asyncDispose]();
    const db = await PgliteSqlDatabase.open(join(dataDir, 'pglite'));
    try {
      const row = await runRow(db, tenantId, runId);
      const attempts = new Map<string, number>();
      for (const a of row.attempts) attempts.set(a.step_key, (attempts.get(a.step_key) ?? 0) + 1);
      const rerun = [...attempts].filter(([, n]) => n > 1).map(([key, n]) => `${key}×${n}`);
      const stepNo = (key: string) => Number(key.slice(1));
      const lastSeen = Math.max(-1, ...seen.completed.map(stepNo));
      // Steps the data dir held from before the kill: completions stamped before it (a transaction
      // cut by the kill leaves no row; that step's completion after the restart is stamped later).
      const committedBefore = completedKeys(all.filter((e) => Date.parse(e.occurredAt) < killed.killedAt));
      console.log(
        `[embedded crash, burst] SIGKILLed ${killed.describe} with ${seen.completed.length} of ${STEPS} steps seen completed (last s${lastSeen}), ${seen.events} events seen live at the kill, ${committedBefore.length} completed steps committed before it; ` +
          `run COMPLETED ${completedAfterMs} ms after the kill; ${row.invocations.length} tool_invocations; steps executed twice: ${rerun.join(', ') || 'none'}; events: ${all.length}`,
      );
      // Exactly once: one side-effect row per step, none missing.
      expect(row.invocations.map((i) => i.step_key).sort()).toEqual(
        ['warmup', ...Array.from({ length: STEPS }, (_, i) => `s${i}`)].sort(),
      );
      expect(attempts.size).toBe(STEPS + 1);
      expect(attempts.get('warmup')).toBe(1);
      // The kill landed mid-burst: some steps were committed before it, and not all of them.
      expect(committedBefore.length).toBeGreaterThanOrEqual(seen.completed.length);
      expect(committedBefore.length).toBeLessThan(STEPS);
      // A step committed before the kill is never executed again, except possibly the LAST one:
      // the engine journals an activity's result in its own transaction right after the
      // activity's commit, so a kill between the two re-runs that step once (at-least-once, as
      // on Temporal; its side effect is idempotent, checked above). Seen once in CI (s30).
      const lastCommitted = committedBefore.map(stepNo).reduce((a, b) => Math.max(a, b), -1);
      for (const key of committedBefore)
        if (stepNo(key) !== lastCommitted) expect(attempts.get(key), key).toBe(1);
      // At most the one step in flight at the kill ran twice (steps run one after another).
      expect(rerun.length).toBeLessThanOrEqual(1);
      for (const [key, n] of attempts)
        if (n > 1)
          expect(stepNo(key) >= lastCommitted, `${key} re-run, committed before s${lastCommitted}`).toBe(
            true,
          );
      expect(row.events.map((e) => e.type)).toEqual(all.map((e) => e.type));
    } finally {
      await db[Symbol.asyncDispose]();
    }
  }, 240_000);
});
