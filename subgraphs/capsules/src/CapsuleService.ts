import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { Connection } from '@somaagent/pagination';
import type { PolicyEvaluator } from '@somaagent/policy';
import type { ObjectStorage, SqlDatabase, StreamLog, WorkflowEngine } from '@somaagent/ports';
import { CapsuleCatalogue } from './CapsuleCatalogue';
import { CapsuleRunEventFeed } from './CapsuleRunEventFeed';
import { CapsuleRuns } from './CapsuleRuns';
import { CapsuleStore } from './CapsuleStore';
import type { CapsuleModel, CapsuleRunEventModel, CapsuleRunModel } from './models';

export interface CapsulesLimits {
  /** @default 200_000 characters */
  maxSourceChars: number;
  /** How often a subscription looks at the database when no live event woke it (runs executed by another process). @default 1000 */
  eventPollMs: number;
}
export const DEFAULT_CAPSULES_LIMITS: CapsulesLimits = { maxSourceChars: 200_000, eventPollMs: 1000 };

/**
 * The capsules domain: definitions (versioned per tenant: CapsuleCatalogue), runs started on the
 * WorkflowEngine port with their step history, approvals and artifacts (CapsuleRuns), and their
 * live events (CapsuleRunEventFeed), over one store of rows and SQL (CapsuleStore). Every
 * database access runs in `db.withScope` for the caller's tenant (FORCE RLS).
 */
export class CapsuleService {
  private readonly catalogue: CapsuleCatalogue;
  private readonly runner: CapsuleRuns;
  private readonly feed: CapsuleRunEventFeed;

  constructor(
    db: SqlDatabase,
    /** The engine, or how to get it once it is needed (the run worker is built after the module list). */
    engine: WorkflowEngine | (() => Promise<WorkflowEngine>),
    storage: ObjectStorage,
    streams: StreamLog,
    limits: CapsulesLimits = DEFAULT_CAPSULES_LIMITS,
    /** Checks the policy names a definition lists; without one they are not checked at publish time (runs still deny what they cannot check). */
    policy?: Pick<PolicyEvaluator, 'evaluate'>,
  ) {
    const store = new CapsuleStore(db);
    const resolveEngine = typeof engine === 'function' ? engine : () => Promise.resolve(engine);
    this.catalogue = new CapsuleCatalogue(store, limits, policy);
    this.runner = new CapsuleRuns(store, this.catalogue, resolveEngine, storage);
    this.feed = new CapsuleRunEventFeed(store, this.runner, streams, limits.eventPollMs);
  }

  createCapsule(claims: VerifiedClaims | null, source: string): Promise<CapsuleModel> {
    return this.catalogue.createCapsule(claims, source);
  }

  updateCapsule(claims: VerifiedClaims | null, source: string): Promise<CapsuleModel> {
    return this.catalogue.updateCapsule(claims, source);
  }

  capsules(
    claims: VerifiedClaims | null,
    args: { first?: number | null; after?: string | null; name?: string | null },
  ): Promise<Connection<CapsuleModel>> {
    return this.catalogue.capsules(claims, args);
  }

  capsule(claims: VerifiedClaims | null, name: string, version?: string | null): Promise<CapsuleModel> {
    return this.catalogue.capsule(claims, name, version);
  }

  capsuleById(claims: VerifiedClaims | null, id: string): Promise<CapsuleModel | null> {
    return this.catalogue.capsuleById(claims, id);
  }

  startRun(
    claims: VerifiedClaims | null,
    input: { name: string; version?: string | null; inputs?: unknown },
  ): Promise<CapsuleRunModel> {
    return this.runner.startRun(claims, input);
  }

  run(claims: VerifiedClaims | null, id: string): Promise<CapsuleRunModel> {
    return this.runner.run(claims, id);
  }

  runs(
    claims: VerifiedClaims | null,
    args: { first?: number | null; after?: string | null; status?: string | null },
  ): Promise<Connection<CapsuleRunModel>> {
    return this.runner.runs(claims, args);
  }

  steps(claims: VerifiedClaims | null, runId: string) {
    return this.runner.steps(claims, runId);
  }

  artifacts(claims: VerifiedClaims | null, runId: string, expiresInSeconds: number) {
    return this.runner.artifacts(claims, runId, expiresInSeconds);
  }

  cancelRun(claims: VerifiedClaims | null, id: string): Promise<CapsuleRunModel> {
    return this.runner.cancelRun(claims, id);
  }

  decide(
    claims: VerifiedClaims | null,
    input: { runId: string; stepKey: string; comment?: string | null },
    approved: boolean,
  ): Promise<CapsuleRunModel> {
    return this.runner.decide(claims, input, approved);
  }

  /** The run's events after `afterSequence` (from the database), then live; ends after the run's last event. */
  events(
    claims: VerifiedClaims | null,
    runId: string,
    afterSequence: number,
  ): Promise<AsyncGenerator<CapsuleRunEventModel>> {
    return this.feed.events(claims, runId, afterSequence);
  }
}
