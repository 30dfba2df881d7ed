/**
 * Activities of capsule runs: every effect of a run happens here (database writes, tool and
 * model calls, artifacts), built by `createActivities(deps)` and handed to whichever engine runs
 * the workflow. They run at least once; each writes its result idempotently keyed by
 * (run, step), so a re-run attempt after a crash never doubles a side effect.
 */

import { type RunEvent, type RunEventType, runStream } from '@somaagent/capsule-contract';
import { SomaError } from '@somaagent/errors';
import type { PolicyDecider, PolicyInput, PolicySubject } from '@somaagent/policy';
import type {
  ActivityRunInfo,
  ChatModel,
  ContextRetriever,
  ObjectStorage,
  SqlDatabase,
  SqlExecutor,
  StreamLog,
} from '@somaagent/ports';

/** A step refused for its input: retrying cannot help, so engines do not retry it. */
export class StepInputError extends Error {
  override name = 'StepInputError';
}

/**
 * A policy denied the step. Keeps the name `StepInputError` (inherited) on purpose: that is the
 * error type both engines are told never to retry, and a denial does not change on retry.
 */
export class StepPolicyDenied extends StepInputError {
  readonly reason = 'POLICY_DENIED';
  constructor(
    message: string,
    readonly policy: string,
    readonly reasons: string[],
  ) {
    super(message);
  }
}

/** The policy engine could not decide: the step is denied (fail-closed) but MAY be retried. */
export class StepPolicyUnavailable extends Error {
  override name = 'StepPolicyUnavailable';
  readonly reason = 'POLICY_UNAVAILABLE';
  constructor(
    message: string,
    readonly policy: string,
  ) {
    super(message);
  }
}

/** Which capsule a step belongs to and the policies named by it and every capsule around it. */
export interface StepGate {
  capsule: string;
  version: string;
  policies: string[];
}

/** Who started a run (capsules.runs.started_as): the policy's subject plus the token's issuer. */
export interface RunStarter extends PolicySubject {
  issuer?: string;
}

export interface ActivitiesDeps {
  db: SqlDatabase;
  /** Live run events (the subscription replays from the database and follows this). */
  streams?: StreamLog;
  /** Model-call steps: the sessions domain's ChatModel port and the model to ask by default. */
  chat?: { model: ChatModel; defaultModel: string };
  /** Artifact steps write here. */
  storage?: ObjectStorage;
  /**
   * Gates every model / tool / memory / artifact step before its work runs (docs/capsules.md,
   * "Policy gating"); share the router's decider so every decision is audited in one place.
   * @default none: the constitution is not consulted, and a step of a capsule that NAMES
   * policies is denied (a policy a capsule asks for is never silently skipped). The platform and
   * workers/src/worker.ts always pass one; only tests of the engines alone leave it out.
   */
  policy?: PolicyDecider;
  /**
   * Memory-recall steps search through this port (the memory domain implements it; workers do
   * not import that domain). @default none: memory-recall steps fail, saying so
   */
  retriever?: ContextRetriever;
}

interface RunRef {
  tenantId: string;
  runId: string;
}

export interface ExecuteStepArgs extends RunRef {
  key: string;
  kind: 'modelCall' | 'toolCall' | 'memoryRecall' | 'artifact';
  spec: Record<string, unknown>;
  /** Absent in runs whose workflow started before gates were passed: the run's capsule row is read instead. */
  gate?: StepGate;
}

export interface MarkStepArgs extends RunRef {
  key: string;
  kind: string;
  status: 'RUNNING' | 'COMPLETED' | 'FAILED' | 'AWAITING_APPROVAL' | 'APPROVED' | 'REJECTED';
  detail: Record<string, unknown>;
}

export interface FinishRunArgs extends RunRef {
  status: 'COMPLETED' | 'FAILED' | 'CANCELLED';
  output?: unknown;
  error?: string;
}

/** Appends an event to the run's log inside `tx`; the caller publishes it after commit. */
export async function appendRunEvent(
  tx: SqlExecutor,
  run: RunRef,
  type: RunEventType,
  stepKey: string | null,
  payload: Record<string, unknown>,
): Promise<RunEvent> {
  const { rows } = await tx.query<{ last_sequence: string }>(
    'UPDATE capsules.runs SET last_sequence = last_sequence + 1, updated_at = clock_timestamp() WHERE id = $1 RETURNING last_sequence',
    [run.runId],
  );
  if (!rows[0]) throw new StepInputError(`run ${run.runId} does not exist in tenant ${run.tenantId}`);
  const sequence = Number(rows[0].last_sequence);
  const inserted = await tx.query<{ at: Date | string }>(
    `INSERT INTO capsules.run_events (tenant_id, run_id, sequence, type, step_key, payload)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING at`,
    [run.tenantId, run.runId, sequence, type, stepKey, JSON.stringify(payload)],
  );
  const at = inserted.rows[0]!.at;
  return { sequence, type, runId: run.runId, stepKey, payload, at: new Date(at).toISOString() };
}

/** Built-in tools until the tools domain exists (docs/capsules.md says which and why). */
type Tool = (args: Record<string, unknown>, info: ActivityRunInfo) => Promise<unknown>;

const abortable = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

export const BUILTIN_TOOLS: Record<string, Tool> = {
  /** Returns its arguments. */
  'soma.echo': async (args) => args,
  /** Waits `ms` (at most 10 minutes), abortable: long-running work, for timeouts and crash tests. */
  'soma.sleep': async (args, info) => {
    const ms = Math.min(Number(args.ms ?? 0), 600_000);
    await abortable(ms, info.signal);
    return { sleptMs: ms };
  },
  /** Fails its first `failAttempts` attempts, then succeeds: retries with backoff, observable. */
  'soma.flaky': async (args, info) => {
    const failAttempts = Number(args.failAttempts ?? 1);
    if (info.attempt <= failAttempts)
      throw new Error(`soma.flaky failing attempt ${info.attempt} of ${failAttempts}`);
    return { succeededOnAttempt: info.attempt };
  },
};

export function createActivities(deps: ActivitiesDeps) {
  const { db } = deps;
  const publish = async (events: RunEvent[]) => {
    if (!deps.streams) return;
    for (const event of events) {
      await deps.streams
        .append(runStream(event.runId), event, { floor: event.sequence - 1 })
        .catch(() => undefined);
    }
  };
  const inTenant = async <T>(run: RunRef, work: (tx: SqlExecutor, events: RunEvent[]) => Promise<T>) => {
    const events: RunEvent[] = [];
    const result = await db.withScope({ tenantId: run.tenantId }, (tx) => work(tx, events));
    await publish(events);
    return result;
  };

  /**
   * Asks the policy engine about the step before its work runs: `constitution.tool` for a tool
   * call, `constitution.model` for a model call, then every policy the capsule (and the capsules
   * around it) names. The first denial ends the step.
   */
  async function checkPolicies(args: ExecuteStepArgs, gate: StepGate, starter: RunStarter | null) {
    const subject: PolicySubject | null = starter
      ? {
          subject: starter.subject,
          tenantId: starter.tenantId,
          roles: starter.roles,
          capabilities: starter.capabilities,
          platformAdmin: starter.platformAdmin,
          authMethod: starter.authMethod,
        }
      : null;
    const spec = args.spec;
    const tool =
      args.kind === 'toolCall' ? { name: String(spec.tool), arguments: spec.args ?? {} } : undefined;
    const model =
      args.kind === 'modelCall'
        ? { name: String(spec.model ?? deps.chat?.defaultModel), maxTokens: Number(spec.maxTokens ?? 256) }
        : undefined;
    const common = {
      subject,
      resource: { tenantId: args.tenantId, type: 'capsuleStep' },
      args: { capsule: gate.capsule, version: gate.version, step: { id: args.key, kind: args.kind } },
      ...(tool ? { tool } : {}),
      ...(model ? { model } : {}),
    };
    const questions: PolicyInput[] = [
      ...(tool ? [{ policy: 'constitution.tool', ...common }] : []),
      ...(model ? [{ policy: 'constitution.model', ...common }] : []),
      ...gate.policies.map((policy) => ({ policy, ...common })),
    ];
    if (!deps.policy) {
      // See ActivitiesDeps.policy: without an engine the constitution is not consulted, but a
      // policy the capsule itself names cannot be honoured, so its steps are denied.
      if (gate.policies.length === 0) return;
      const policy = gate.policies[0]!;
      throw new StepPolicyDenied(
        `step "${args.key}" denied by policy ${policy}: no policy engine is configured for capsule runs, so it cannot be checked`,
        policy,
        ['no policy engine is configured for capsule runs'],
      );
    }
    const decisions = deps.policy.forRequest();
    for (const question of questions) {
      const decision = await decisions.decide(question);
      if (decision.allow) continue;
      const why = decision.reasons.join('; ') || 'denied';
      if (decision.unavailable) {
        throw new StepPolicyUnavailable(
          `step "${args.key}" could not be checked against policy ${question.policy}: ${why}`,
          question.policy,
        );
      }
      throw new StepPolicyDenied(
        `step "${args.key}" denied by policy ${question.policy}: ${why}`,
        question.policy,
        decision.reasons,
      );
    }
  }

  async function work(
    args: ExecuteStepArgs,
    info: ActivityRunInfo,
    progress: (p: Record<string, unknown>) => Promise<void>,
    starter: RunStarter | null,
  ) {
    const spec = args.spec;
    switch (args.kind) {
      case 'toolCall': {
        const tool = BUILTIN_TOOLS[String(spec.tool)];
        if (!tool) {
          throw new StepInputError(
            `unknown tool "${String(spec.tool)}": available are ${Object.keys(BUILTIN_TOOLS).join(', ')} until the tools domain exists`,
          );
        }
        return tool((spec.args as Record<string, unknown>) ?? {}, info);
      }
      case 'modelCall': {
        if (!deps.chat) throw new StepInputError('no model provider is configured for capsule runs');
        let text = '';
        let usage: Record<string, number> = {};
        let finish = 'stop';
        let sinceProgress = 0;
        const messages = [
          ...(spec.system ? [{ role: 'system' as const, content: String(spec.system) }] : []),
          { role: 'user' as const, content: String(spec.prompt) },
        ];
        for await (const chunk of deps.chat.model.stream({
          model: String(spec.model ?? deps.chat.defaultModel),
          messages,
          maxTokens: Number(spec.maxTokens ?? 256),
          ...(spec.temperature !== undefined ? { temperature: Number(spec.temperature) } : {}),
          signal: info.signal,
        })) {
          if (chunk.type === 'delta') {
            text += chunk.text;
            if (++sinceProgress >= 16) {
              sinceProgress = 0;
              await progress({ characters: text.length });
            }
          } else if (chunk.type === 'usage')
            usage = { promptTokens: chunk.promptTokens, completionTokens: chunk.completionTokens };
          else finish = chunk.reason;
        }
        return { text, ...usage, finishReason: finish };
      }
      case 'memoryRecall': {
        if (!deps.retriever)
          throw new StepInputError(
            'no memory retriever is configured for capsule runs, so memory cannot be recalled',
          );
        if (!starter?.tenantId) {
          throw new StepInputError(
            'this run records no starting user (it was started before runs recorded one): memory is only recalled on behalf of the user who started the run',
          );
        }
        const query = String(spec.query ?? '');
        const k = Number(spec.k ?? 5);
        // The run acts for the user who started it, with the rights recorded at start: the memory
        // domain checks tenant and capabilities (memory:read) against these claims, not expiry.
        const claims = {
          subject: starter.subject,
          tenantId: starter.tenantId,
          roles: starter.roles,
          capabilities: starter.capabilities,
          platformAdmin: starter.platformAdmin,
          authMethod: starter.authMethod as 'password',
          issuer: starter.issuer ?? 'capsule-run',
          expiresAt: Math.floor(Date.now() / 1000) + 300,
        };
        try {
          const recalled = await deps.retriever.retrieve(claims, query, k, {});
          return {
            query,
            k,
            items: recalled.passages.map((p) => ({
              id: p.memoryItemId,
              text: p.text ?? null,
              score: p.score,
              scope: p.scope ?? null,
            })),
          };
        } catch (error) {
          // A refusal (no memory:read, a bad query or k) does not change on retry; an outage may.
          if (error instanceof SomaError && !['UNAVAILABLE', 'INTERNAL_SERVER_ERROR'].includes(error.code))
            throw new StepInputError(`memory recall refused (${error.code}): ${error.message}`);
          throw error;
        }
      }
      case 'artifact': {
        if (!deps.storage) throw new StepInputError('no object storage is configured for artifacts');
        const name = String(spec.name);
        const objectKey = `tenants/${args.tenantId}/runs/${args.runId}/${args.key}/${name}`;
        const stored = await deps.storage.put(
          objectKey,
          String(spec.content),
          String(spec.contentType ?? 'text/plain; charset=utf-8'),
        );
        return { name, objectKey, size: stored.size, contentType: stored.contentType };
      }
    }
  }

  return {
    /** Runs one model / tool / memory / artifact step, recording started / completed / failed. */
    async executeStep(args: ExecuteStepArgs, info: ActivityRunInfo): Promise<unknown> {
      const run = await inTenant(args, async (tx, events) => {
        await tx.query(
          'INSERT INTO capsules.step_attempts (tenant_id, run_id, step_key, attempt) VALUES ($1, $2, $3, $4)',
          [args.tenantId, args.runId, args.key, info.attempt],
        );
        await tx.query(
          `INSERT INTO capsules.run_steps (tenant_id, run_id, step_key, kind, status, attempts)
           VALUES ($1, $2, $3, $4, 'RUNNING', $5)
           ON CONFLICT (run_id, step_key) DO UPDATE SET status = 'RUNNING', attempts = EXCLUDED.attempts, error = NULL, updated_at = clock_timestamp()`,
          [args.tenantId, args.runId, args.key, args.kind, info.attempt],
        );
        events.push(
          await appendRunEvent(tx, args, 'STEP_STARTED', args.key, {
            kind: args.kind,
            attempt: info.attempt,
          }),
        );
        const { rows } = await tx.query<{
          started_as: RunStarter | null;
          name: string;
          version: string;
          policies: string[] | null;
        }>(
          `SELECT r.started_as, c.name, c.version, c.definition->'policies' AS policies
             FROM capsules.runs r JOIN capsules.capsules c ON c.id = r.capsule_id WHERE r.id = $1`,
          [args.runId],
        );
        return rows[0];
      });
      try {
        const gate: StepGate = args.gate ?? {
          capsule: run?.name ?? '',
          version: run?.version ?? '',
          policies: run?.policies ?? [],
        };
        const starter = run?.started_as ?? null;
        if (args.kind === 'modelCall' && !deps.chat)
          throw new StepInputError('no model provider is configured for capsule runs (SOMA_LLM_BASE_URL)');
        // In the activity, not the workflow: a decision is an effect (it reads the engine and is
        // audited), and it is asked again on every attempt.
        await checkPolicies(args, gate, starter);
        const output = await work(
          args,
          info,
          (p) =>
            inTenant(args, async (tx, events) => {
              events.push(await appendRunEvent(tx, args, 'STEP_PROGRESS', args.key, p));
            }),
          starter,
        );
        await inTenant(args, async (tx, events) => {
          if (args.kind === 'toolCall') {
            await tx.query(
              `INSERT INTO capsules.tool_invocations (tenant_id, run_id, step_key, tool, args, result)
               VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run_id, step_key) DO NOTHING`,
              [
                args.tenantId,
                args.runId,
                args.key,
                String(args.spec.tool),
                JSON.stringify(args.spec.args ?? {}),
                JSON.stringify(output ?? null),
              ],
            );
          }
          if (args.kind === 'artifact') {
            const a = output as { name: string; objectKey: string; size: number; contentType: string };
            await tx.query(
              `INSERT INTO capsules.artifacts (tenant_id, run_id, step_key, name, object_key, content_type, size)
               VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (run_id, step_key) DO NOTHING`,
              [args.tenantId, args.runId, args.key, a.name, a.objectKey, a.contentType, a.size],
            );
          }
          await tx.query(
            `UPDATE capsules.run_steps SET status = 'COMPLETED', output = $3, updated_at = clock_timestamp()
              WHERE run_id = $1 AND step_key = $2`,
            [args.runId, args.key, JSON.stringify(output ?? null)],
          );
          events.push(
            await appendRunEvent(tx, args, 'STEP_COMPLETED', args.key, {
              kind: args.kind,
              attempt: info.attempt,
            }),
          );
        });
        return output ?? null;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        const detail =
          error instanceof StepPolicyDenied
            ? { reason: error.reason, policy: error.policy, reasons: error.reasons }
            : error instanceof StepPolicyUnavailable
              ? { reason: error.reason, policy: error.policy }
              : null;
        await inTenant(args, async (tx, events) => {
          await tx.query(
            `UPDATE capsules.run_steps SET status = 'FAILED', error = $3, detail = COALESCE($4, detail), updated_at = clock_timestamp()
              WHERE run_id = $1 AND step_key = $2`,
            [args.runId, args.key, message, detail ? JSON.stringify(detail) : null],
          );
          events.push(
            await appendRunEvent(tx, args, 'STEP_FAILED', args.key, {
              kind: args.kind,
              attempt: info.attempt,
              error: message,
              ...detail,
            }),
          );
        }).catch(() => undefined);
        throw error;
      }
    },

    /** Records a step state that needs no work: approvals, branch decisions, parallel and sub-capsule bounds. */
    async markStep(args: MarkStepArgs, _info: ActivityRunInfo): Promise<null> {
      await inTenant(args, async (tx, events) => {
        await tx.query(
          `INSERT INTO capsules.run_steps (tenant_id, run_id, step_key, kind, status, detail, error)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (run_id, step_key) DO UPDATE SET status = EXCLUDED.status, detail = EXCLUDED.detail,
             error = EXCLUDED.error, updated_at = clock_timestamp()`,
          [
            args.tenantId,
            args.runId,
            args.key,
            args.kind,
            args.status,
            JSON.stringify(args.detail),
            (args.detail.error as string) ?? null,
          ],
        );
        if (args.status === 'AWAITING_APPROVAL') {
          await tx.query(
            `UPDATE capsules.runs SET status = 'AWAITING_APPROVAL' WHERE id = $1 AND status = 'RUNNING'`,
            [args.runId],
          );
          events.push(await appendRunEvent(tx, args, 'AWAITING_APPROVAL', args.key, args.detail));
          return;
        }
        if (args.status === 'APPROVED' || args.status === 'REJECTED') {
          await tx.query(
            `UPDATE capsules.runs SET status = 'RUNNING' WHERE id = $1 AND status = 'AWAITING_APPROVAL'`,
            [args.runId],
          );
          events.push(
            await appendRunEvent(tx, args, 'APPROVAL_DECIDED', args.key, {
              status: args.status,
              ...args.detail,
            }),
          );
          return;
        }
        const type =
          args.status === 'RUNNING'
            ? 'STEP_STARTED'
            : args.status === 'FAILED'
              ? 'STEP_FAILED'
              : 'STEP_COMPLETED';
        events.push(await appendRunEvent(tx, args, type, args.key, { kind: args.kind, ...args.detail }));
      });
      return null;
    },

    /** Records the run's outcome (once: a replayed call leaves the first outcome). */
    async finishRun(args: FinishRunArgs, _info: ActivityRunInfo): Promise<null> {
      await inTenant(args, async (tx, events) => {
        const { rowCount } = await tx.query(
          `UPDATE capsules.runs SET status = $2, output = $3, error = $4, finished_at = clock_timestamp(), updated_at = clock_timestamp()
            WHERE id = $1 AND status IN ('RUNNING', 'AWAITING_APPROVAL')`,
          [args.runId, args.status, JSON.stringify(args.output ?? null), args.error ?? null],
        );
        if (rowCount === 0) return;
        const type =
          args.status === 'COMPLETED'
            ? 'RUN_COMPLETED'
            : args.status === 'FAILED'
              ? 'RUN_FAILED'
              : 'RUN_CANCELLED';
        events.push(
          await appendRunEvent(
            tx,
            args,
            type,
            null,
            args.status === 'COMPLETED' ? { output: args.output ?? null } : { error: args.error ?? null },
          ),
        );
      });
      return null;
    },
  };
}

export type CapsuleActivities = ReturnType<typeof createActivities>;

export { type RunEvent, type RunEventType, runStream };
