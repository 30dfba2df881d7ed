import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { PolicyDecision, PolicySubject } from '@somaagent/ports';

// The port lives in @somaagent/ports with every other port; re-exported for existing imports.
export {
  type PolicyDecision,
  PolicyEngineUnavailable,
  type PolicyEvaluator,
  type PolicyInput,
  type PolicyModule,
  type PolicySetInfo,
  type PolicySubject,
} from '@somaagent/ports';

/** The rule every question is asked of: `data.somaagent.authz.decision` (policies/somaagent/authz). */
export const DECISION_PATH = 'somaagent/authz/decision';

export function policySubject(claims: VerifiedClaims | null | undefined): PolicySubject | null {
  if (!claims) return null;
  return {
    subject: claims.subject,
    tenantId: claims.tenantId,
    roles: claims.roles,
    capabilities: claims.capabilities,
    platformAdmin: claims.platformAdmin,
    authMethod: claims.authMethod,
  };
}

/** Reads the decision document out of an engine's result; anything malformed is a denial. */
export function toDecision(result: unknown, policy: string): PolicyDecision {
  if (typeof result !== 'object' || result === null) {
    return { allow: false, reasons: ['the policy returned no decision: denied by default'], policy };
  }
  const r = result as Partial<PolicyDecision>;
  return {
    allow: r.allow === true,
    reasons: Array.isArray(r.reasons) ? r.reasons.map(String) : [],
    policy: typeof r.policy === 'string' ? r.policy : policy,
  };
}
