import { allSteps, type CapsuleDefinition } from '@somaagent/capsule-contract';
import { clip, SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import { type Connection, pageArgs, toConnection } from '@somaagent/pagination';
import { PolicyEngineUnavailable, type PolicyEvaluator } from '@somaagent/policy';
import type { SqlExecutor } from '@somaagent/ports';
import type { CapsulesLimits } from './CapsuleService';
import type { CapsuleStore } from './CapsuleStore';
import { semver } from './CapsuleStore';
import { requireCaller } from './capabilities';
import { type CapsuleModel, toCapsule } from './models';
import { type DefinitionProblem, parseCapsuleDefinition, sourcePosition } from './parseCapsuleDefinition';

const compareSemver = (a: string, b: string) => {
  const [x, y] = [semver(a), semver(b)];
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
};

function invalidDefinition(problems: DefinitionProblem[]): SomaError {
  const first = problems[0]!;
  const where = `${first.path || '(document)'}${first.line ? ` (line ${first.line}, column ${first.column})` : ''}`;
  return new SomaError(
    'BAD_USER_INPUT',
    `capsule definition is invalid: ${where}: ${first.message}${problems.length > 1 ? ` (and ${problems.length - 1} more problems)` : ''}; see capsuleDefinitionSchema`,
    { reason: 'INVALID_DEFINITION', field: 'source', problems },
  );
}

/**
 * Capsule definitions, versioned per tenant: publishing (create, then higher versions only),
 * listing and finding them. A published version never changes.
 */
export class CapsuleCatalogue {
  constructor(
    private readonly store: CapsuleStore,
    private readonly limits: Pick<CapsulesLimits, 'maxSourceChars'>,
    /** Checks the policy names a definition lists; without one they are not checked at publish time (runs still deny what they cannot check). */
    private readonly policy?: Pick<PolicyEvaluator, 'evaluate'>,
  ) {}

  private parse(source: string): CapsuleDefinition {
    if (source.length > this.limits.maxSourceChars) {
      throw new SomaError(
        'BAD_USER_INPUT',
        `source is longer than ${this.limits.maxSourceChars} characters`,
        {
          reason: 'INVALID_DEFINITION',
          field: 'source',
        },
      );
    }
    const parsed = parseCapsuleDefinition(source);
    if (!parsed.ok) throw invalidDefinition(parsed.problems);
    return parsed.definition;
  }

  /**
   * Every name under `policies` must be a policy the engine knows. There is no list of names
   * outside the Rego (policies/somaagent/authz: `known_policies`), so the engine is asked: an
   * unknown name is denied with the reason `no policy named "…"`. Asked of the evaluator, not the
   * audited decider: this checks a name, it decides nothing about anyone.
   */
  private async checkPolicyNames(definition: CapsuleDefinition, source: string): Promise<void> {
    if (!this.policy) return;
    const problems: DefinitionProblem[] = [];
    for (const [i, name] of (definition.policies ?? []).entries()) {
      let reasons: string[];
      try {
        ({ reasons } = await this.policy.evaluate({ policy: name, subject: null }));
      } catch (error) {
        if (!(error instanceof PolicyEngineUnavailable)) throw error;
        throw new SomaError(
          'UNAVAILABLE',
          `the policy engine could not check the policy names of this capsule (${error.message}); try again`,
          { reason: 'POLICY_UNAVAILABLE' },
        );
      }
      if (reasons.some((r) => r.startsWith('no policy named'))) {
        const path = `/policies/${i}`;
        problems.push({
          path,
          ...sourcePosition(source, path),
          message: `policies[${i}]: no policy named "${clip(name)}"; use a rule of policies/somaagent/authz (e.g. "tenant.member", "platform.admin")`,
        });
      }
    }
    if (problems.length) {
      const first = problems[0]!;
      throw new SomaError(
        'BAD_USER_INPUT',
        `capsule definition names an unknown policy: ${first.message}${first.line ? ` (line ${first.line}, column ${first.column})` : ''}`,
        { reason: 'UNKNOWN_POLICY', field: 'source', problems },
      );
    }
  }

  /** Sub-capsule references must name published versions. */
  private async checkReferences(tx: SqlExecutor, definition: CapsuleDefinition): Promise<void> {
    for (const step of allSteps(definition.steps)) {
      if (step.kind !== 'capsule') continue;
      if (!(await this.store.isPublished(tx, step.capsule, step.version))) {
        throw new SomaError(
          'BAD_USER_INPUT',
          `step "${clip(step.id)}" uses capsule ${clip(step.capsule)}@${clip(step.version)}, which is not published in this tenant: publish it first`,
          { reason: 'UNKNOWN_CAPSULE', field: 'source', stepId: step.id },
        );
      }
    }
  }

  async createCapsule(claims: VerifiedClaims | null, source: string): Promise<CapsuleModel> {
    const caller = requireCaller(claims, 'capsules:write');
    const definition = this.parse(source);
    await this.checkPolicyNames(definition, source);
    return this.store.inTenant(caller, async (tx) => {
      await this.store.lockName(tx, caller.tenantId, definition.name);
      if (await this.store.nameExists(tx, definition.name)) {
        throw new SomaError(
          'CONFLICT',
          `capsule "${definition.name}" already exists: publish a new version with updateCapsule`,
          { reason: 'CAPSULE_EXISTS', name: definition.name },
        );
      }
      await this.checkReferences(tx, definition);
      return toCapsule(await this.store.insertCapsule(tx, caller, definition, source));
    });
  }

  async updateCapsule(claims: VerifiedClaims | null, source: string): Promise<CapsuleModel> {
    const caller = requireCaller(claims, 'capsules:write');
    const definition = this.parse(source);
    await this.checkPolicyNames(definition, source);
    return this.store.inTenant(caller, async (tx) => {
      await this.store.lockName(tx, caller.tenantId, definition.name);
      const latest = await this.store.latestVersion(tx, definition.name);
      if (latest === null) {
        throw new SomaError(
          'NOT_FOUND',
          `capsule "${definition.name}" does not exist: create it with createCapsule`,
          {
            reason: 'UNKNOWN_CAPSULE',
            name: definition.name,
          },
        );
      }
      if (compareSemver(definition.version, latest) <= 0) {
        throw new SomaError(
          'CONFLICT',
          `version ${definition.version} is not higher than the published ${latest}: versions are immutable, bump it`,
          { reason: 'VERSION_NOT_HIGHER', latest },
        );
      }
      await this.checkReferences(tx, definition);
      return toCapsule(await this.store.insertCapsule(tx, caller, definition, source));
    });
  }

  async capsules(
    claims: VerifiedClaims | null,
    args: { first?: number | null; after?: string | null; name?: string | null },
  ): Promise<Connection<CapsuleModel>> {
    const caller = requireCaller(claims, 'capsules:read');
    const { first, after } = pageArgs(args);
    return this.store.inTenant(caller, async (tx) => {
      const page = await this.store.pageCapsules(tx, args.name ?? null, first, after);
      return toConnection(page.rows, first, page.total, toCapsule);
    });
  }

  /** That version, or the highest one; NOT_FOUND when there is none. Used by runs in their own transaction. */
  async findCapsule(tx: SqlExecutor, name: string, version?: string | null): Promise<CapsuleModel> {
    // Names and versions are short by definition; a longer one cannot name a capsule.
    if (name.length > 63 || (version?.length ?? 0) > 64) {
      throw new SomaError(
        'BAD_USER_INPUT',
        'a capsule name has at most 63 characters and a version at most 64',
        {
          field: name.length > 63 ? 'name' : 'version',
        },
      );
    }
    const row = await this.store.findCapsule(tx, name, version ?? null);
    if (!row) {
      throw new SomaError(
        'NOT_FOUND',
        version ? `capsule ${clip(name)}@${clip(version)} not found` : `capsule "${clip(name)}" not found`,
        { reason: 'UNKNOWN_CAPSULE', name: clip(name), ...(version ? { version: clip(version) } : {}) },
      );
    }
    return toCapsule(row);
  }

  async capsule(claims: VerifiedClaims | null, name: string, version?: string | null): Promise<CapsuleModel> {
    const caller = requireCaller(claims, 'capsules:read');
    return this.store.inTenant(caller, (tx) => this.findCapsule(tx, name, version));
  }

  async capsuleById(claims: VerifiedClaims | null, id: string): Promise<CapsuleModel | null> {
    const caller = requireCaller(claims, 'capsules:read');
    return this.store.inTenant(caller, async (tx) => {
      const row = await this.store.capsuleById(tx, id);
      return row ? toCapsule(row) : null;
    });
  }
}
