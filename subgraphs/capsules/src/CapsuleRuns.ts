import { randomUUID } from 'node:crypto';
import {
  type ApprovalDecision,
  allSteps,
  approvalSignal,
  CAPSULE_RUN_WORKFLOW,
  type CapsuleDefinition,
  type CapsuleRunInput,
} from '@somaagent/capsule-contract';
import { clip, SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import { type Connection, pageArgs, toConnection } from '@somaagent/pagination';
import type { ObjectStorage, SqlExecutor, WorkflowEngine } from '@somaagent/ports';
import type { CapsuleCatalogue } from './CapsuleCatalogue';
import type { CapsuleStore } from './CapsuleStore';
import { holds, requireCaller } from './capabilities';
import { type CapsuleRunModel, toRun } from './models';
import { validateInputs } from './parseCapsuleDefinition';

/**
 * Runs of capsules: starting one on the WorkflowEngine port, reading it back with its steps and
 * artifacts, cancelling it, deciding its approval steps. What a run then does is written by the
 * run workers through the CapsuleRunStore port (SqlCapsuleRunStore).
 */
export class CapsuleRuns {
  constructor(
    private readonly store: CapsuleStore,
    private readonly catalogue: CapsuleCatalogue,
    /** Resolved on first use: the run worker is built after the module list is (it writes through this domain's store). */
    private readonly workflowEngine: () => Promise<WorkflowEngine>,
    private readonly storage: ObjectStorage,
  ) {}

  private async engine(): Promise<WorkflowEngine> {
    try {
      return await this.workflowEngine();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new SomaError('UNAVAILABLE', `the workflow engine is not available (${message}); try again`);
    }
  }

  async startRun(
    claims: VerifiedClaims | null,
    input: { name: string; version?: string | null; inputs?: unknown },
  ): Promise<CapsuleRunModel> {
    const caller = requireCaller(claims, 'capsules:run');
    const engine = await this.engine();
    const inputs = (input.inputs ?? {}) as Record<string, unknown>;
    const runId = randomUUID();
    const { run, workflowInput } = await this.store.inTenant(caller, async (tx) => {
      const capsule = await this.catalogue.findCapsule(tx, input.name, input.version);
      const checked = validateInputs(capsule.definition.inputs, inputs);
      if (!checked.ok) {
        const first = checked.problems[0]!;
        throw new SomaError(
          'BAD_USER_INPUT',
          `inputs do not match the inputs schema of ${capsule.name}@${capsule.version}: ${first.path || '(inputs)'} ${first.message}`,
          { reason: 'INVALID_INPUTS', field: 'inputs', problems: checked.problems },
        );
      }
      const missing = capsule.capabilities.filter((c) => !holds(caller, c));
      if (missing.length) {
        throw new SomaError(
          'FORBIDDEN',
          `capsule ${capsule.name}@${capsule.version} requires capabilities ${missing.map((c) => `"${c}"`).join(', ')}`,
          { reason: 'MISSING_CAPABILITY', capabilities: missing },
        );
      }
      // Sub-capsules are resolved now, transitively, so the workflow itself stays deterministic.
      const capsules: Record<string, CapsuleDefinition> = {};
      const pending = [capsule.definition];
      while (pending.length) {
        for (const step of allSteps(pending.pop()!.steps)) {
          if (step.kind !== 'capsule' || capsules[`${step.capsule}@${step.version}`]) continue;
          const child = await this.catalogue.findCapsule(tx, step.capsule, step.version);
          capsules[`${step.capsule}@${step.version}`] = child.definition;
          pending.push(child.definition);
        }
      }
      // Who started the run, as the policy engine sees them: every step is checked as this
      // subject, and memory-recall steps search what they may see (workers/src/activities.ts).
      const startedAs = {
        subject: claims!.subject,
        tenantId: claims!.tenantId,
        roles: claims!.roles,
        capabilities: claims!.capabilities,
        platformAdmin: claims!.platformAdmin,
        authMethod: claims!.authMethod,
        issuer: claims!.issuer,
      };
      const row = await this.store.insertRun(tx, {
        id: runId,
        tenantId: caller.tenantId,
        capsuleId: capsule.id,
        inputs,
        engine: engine.kind,
        startedBy: caller.subject,
        startedAs,
      });
      const workflowInput: CapsuleRunInput = {
        tenantId: caller.tenantId,
        runId,
        definition: capsule.definition,
        inputs,
        capsules,
      };
      return { run: toRun(row), workflowInput };
    });
    try {
      await engine.start(CAPSULE_RUN_WORKFLOW, runId, workflowInput);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await this.store.inTenant(caller, (tx) =>
        this.store.failUnstartedRun(tx, runId, `the workflow engine did not accept the run: ${message}`),
      );
      throw new SomaError(
        'UNAVAILABLE',
        `the workflow engine (${engine.kind}) did not accept the run; try again`,
        {
          runId,
        },
      );
    }
    return run;
  }

  /**
   * The run if it is the caller's tenant's; NOT_FOUND otherwise. Another tenant's run answers
   * exactly like a missing one, so no answer tells that an id exists elsewhere.
   */
  async loadRun(tx: SqlExecutor, id: string): Promise<CapsuleRunModel> {
    const missing = () => new SomaError('NOT_FOUND', `capsule run ${clip(id)} not found`, { field: 'id' });
    if (!/^[0-9a-f-]{36}$/i.test(id)) throw missing();
    const row = await this.store.runById(tx, id);
    if (row) return toRun(row);
    throw missing();
  }

  async run(claims: VerifiedClaims | null, id: string): Promise<CapsuleRunModel> {
    const caller = requireCaller(claims, 'capsules:read');
    return this.store.inTenant(caller, (tx) => this.loadRun(tx, id));
  }

  async runs(
    claims: VerifiedClaims | null,
    args: { first?: number | null; after?: string | null; status?: string | null },
  ): Promise<Connection<CapsuleRunModel>> {
    const caller = requireCaller(claims, 'capsules:read');
    const { first, after } = pageArgs(args);
    return this.store.inTenant(caller, async (tx) => {
      const page = await this.store.pageRuns(tx, args.status ?? null, first, after);
      return toConnection(page.rows, first, page.total, toRun);
    });
  }

  async steps(claims: VerifiedClaims | null, runId: string) {
    const caller = requireCaller(claims, 'capsules:read');
    const rows = await this.store.inTenant(caller, (tx) => this.store.steps(tx, runId));
    return rows.map((r) => ({
      key: r.step_key,
      kind: r.kind,
      status: r.status as 'RUNNING',
      attempts: r.attempts,
      detail: r.detail,
      output: r.output,
      error: r.error,
      startedAt: new Date(r.started_at).toISOString(),
      updatedAt: new Date(r.updated_at).toISOString(),
    }));
  }

  async artifacts(claims: VerifiedClaims | null, runId: string, expiresInSeconds: number) {
    const caller = requireCaller(claims, 'capsules:read');
    if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > 86_400) {
      throw new SomaError('BAD_USER_INPUT', 'expiresInSeconds must be between 1 and 86400', {
        field: 'expiresInSeconds',
      });
    }
    const rows = await this.store.inTenant(caller, (tx) => this.store.artifacts(tx, runId));
    const expiresAt = new Date(Date.now() + expiresInSeconds * 1000).toISOString();
    return Promise.all(
      rows.map(async (r) => ({
        id: r.id,
        stepKey: r.step_key,
        name: r.name,
        contentType: r.content_type,
        size: Number(r.size),
        downloadUrl: await this.storage.presignedGetUrl(r.object_key, expiresInSeconds, {
          contentType: r.content_type,
          filename: r.name,
        }),
        urlExpiresAt: expiresAt,
        createdAt: new Date(r.created_at).toISOString(),
      })),
    );
  }

  async cancelRun(claims: VerifiedClaims | null, id: string): Promise<CapsuleRunModel> {
    const caller = requireCaller(claims, 'capsules:run');
    const run = await this.store.inTenant(caller, (tx) => this.loadRun(tx, id));
    if (run.status !== 'RUNNING' && run.status !== 'AWAITING_APPROVAL') {
      throw new SomaError('CONFLICT', `capsule run ${id} already ended (${run.status})`, {
        reason: 'RUN_FINISHED',
        status: run.status,
      });
    }
    await (await this.engine()).cancel(id);
    return run;
  }

  async decide(
    claims: VerifiedClaims | null,
    input: { runId: string; stepKey: string; comment?: string | null },
    approved: boolean,
  ): Promise<CapsuleRunModel> {
    const caller = requireCaller(claims, 'capsules:approve');
    if (input.stepKey.length > 500)
      throw new SomaError('BAD_USER_INPUT', 'stepKey has at most 500 characters', { field: 'stepKey' });
    if ((input.comment?.length ?? 0) > 4000)
      throw new SomaError('BAD_USER_INPUT', 'comment has at most 4000 characters', { field: 'comment' });
    const run = await this.store.inTenant(caller, async (tx) => {
      const r = await this.loadRun(tx, input.runId);
      const step = await this.store.stepState(tx, input.runId, input.stepKey);
      if (step?.status !== 'AWAITING_APPROVAL') {
        throw new SomaError(
          'CONFLICT',
          step
            ? `step "${clip(input.stepKey)}" of run ${input.runId} is not waiting for approval (it is ${step.status})`
            : `step "${clip(input.stepKey)}" of run ${input.runId} is not waiting for approval (it has not been reached, or is not an approval step)`,
          {
            reason: 'STEP_NOT_AWAITING',
            stepKey: clip(input.stepKey),
            ...(step ? { status: step.status } : {}),
          },
        );
      }
      return r;
    });
    const decision: ApprovalDecision = {
      approved,
      by: caller.subject,
      ...(input.comment ? { comment: input.comment } : {}),
    };
    await (await this.engine()).signal(input.runId, approvalSignal(input.stepKey), decision);
    return run;
  }
}
