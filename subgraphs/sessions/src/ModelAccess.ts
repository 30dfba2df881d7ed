import { SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import { type PolicyDecider, policySubject } from '@somaagent/policy';
import type { ContextRetriever, RecalledPassage } from '@somaagent/ports';
import type { Caller } from './capabilities';
import type { SessionModelUse } from './KnownSessions';

/** The policy every model call is asked of (policies/somaagent/authz: the tenant's constitution). */
export const MODEL_POLICY = 'constitution.model';

/** Memory recalled into one prompt. */
export type Recalled = { text: string; passages: RecalledPassage[] };

/** What a model call is asked before it is made: the tenant's constitution, and the memory it recalls. */
export class ModelAccess {
  constructor(
    /** Asks `constitution.model` before every model call (fail-closed, audited). */
    private readonly policy: PolicyDecider,
    /** Memory recall for personas with recallK > 0; without it, personas answer without memory. */
    readonly retriever?: ContextRetriever,
  ) {}

  /**
   * Asks the tenant's constitution (`constitution.model`) whether this model call may be made:
   * the same Rego that gates personas at creation, asked again per call because a constitution
   * can change after a persona was created. Denied → FORBIDDEN with the policy's reasons; engine
   * unavailable → UNAVAILABLE (fail-closed). The decider audits every decision.
   */
  async authorize(claims: VerifiedClaims, caller: Caller, use: SessionModelUse): Promise<void> {
    const decision = await this.policy.forRequest().decide({
      policy: MODEL_POLICY,
      subject: policySubject(claims),
      model: { name: use.model, maxTokens: use.maxTokens },
      field: { parentType: 'Mutation', name: 'sendMessage', path: 'sendMessage' },
      resource: { tenantId: caller.tenantId, type: 'Persona' },
    });
    if (decision.allow) return;
    const details = { reason: 'POLICY_DENIED', policy: MODEL_POLICY, reasons: decision.reasons };
    if (decision.unavailable) {
      throw new SomaError(
        'UNAVAILABLE',
        `${decision.reasons[0] ?? 'policy engine unavailable'} (fail-closed): the model was not called and nothing was stored; retry shortly`,
        { ...details, reason: 'POLICY_ENGINE_UNAVAILABLE', retriable: true },
      );
    }
    throw new SomaError(
      'FORBIDDEN',
      `denied by policy "${MODEL_POLICY}": ${decision.reasons.join('; ') || 'denied by policy'}; nothing was stored — use a persona whose model and maxTokens the tenant's constitution allows`,
      details,
    );
  }

  /**
   * The persona's recall for this message, or null when it recalls nothing. A caller without
   * `memory:read` gets an answer without memory: a persona must not read memory its user cannot.
   */
  async recall(
    claims: VerifiedClaims,
    use: SessionModelUse,
    sessionId: string,
    question: string,
  ): Promise<Recalled | null> {
    if (!this.retriever || use.recallK === 0) return null;
    try {
      return await this.retriever.retrieve(claims, question, use.recallK, { sessionId });
    } catch (error) {
      if (error instanceof SomaError && (error.code === 'FORBIDDEN' || error.code === 'UNAUTHENTICATED'))
        return null;
      throw error;
    }
  }
}
