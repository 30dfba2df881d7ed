import { createHash } from 'node:crypto';
import { stableStringify } from '@somaagent/internal-auth';
import {
  type PolicyDecision,
  PolicyEngineUnavailable,
  type PolicyEvaluator,
  type PolicyInput,
} from './PolicyEvaluator';
import { type AuditSink, auditEvent } from './policyAudit';

export interface PolicyDeciderOptions {
  evaluator: PolicyEvaluator;
  /** Receives one `policy.decision` event per evaluated decision. @default none (no audit) */
  audit?: AuditSink;
  /**
   * When the engine cannot decide, ALLOW instead of deny. Development only: it is announced on
   * stderr at start and on every decision it lets through. @default false (fail-closed)
   */
  failOpen?: boolean;
}

/** A decision as the router uses it: `unavailable` marks a fail-closed denial. */
export interface ScopedDecision extends PolicyDecision {
  unavailable: boolean;
}

/** The decisions of ONE request: each distinct question is asked once. */
export interface RequestPolicyScope {
  decide(input: PolicyInput): Promise<ScopedDecision>;
  /** Distinct questions asked of the engine in this request. */
  readonly evaluated: number;
  /** Questions answered from this request's cache. */
  readonly cached: number;
}

export interface PolicyDecider {
  readonly evaluator: PolicyEvaluator;
  readonly failOpen: boolean;
  /** A fresh per-request cache. */
  forRequest(): RequestPolicyScope;
}

export const inputDigest = (input: PolicyInput) =>
  createHash('sha256').update(stableStringify(input)).digest('hex');

/**
 * Wraps an evaluator with what every caller needs: fail-closed handling, per-request decision
 * caching keyed by the whole input document (subject, policy, field without list indices,
 * arguments, resource), and audit events.
 */
export function createPolicyDecider(options: PolicyDeciderOptions): PolicyDecider {
  const { evaluator, audit } = options;
  const failOpen = options.failOpen ?? false;
  if (failOpen) {
    console.warn(
      '[policy] FAIL-OPEN IS ON: requests are ALLOWED when the policy engine cannot decide. Never do this in production.',
    );
  }

  const decideUncached = async (input: PolicyInput, canonical: string): Promise<ScopedDecision> => {
    const started = performance.now();
    let decision: ScopedDecision;
    let outcome: 'decided' | 'unavailable-denied' | 'unavailable-allowed-fail-open' = 'decided';
    try {
      decision = { ...(await evaluator.evaluate(input)), unavailable: false };
    } catch (error) {
      if (!(error instanceof PolicyEngineUnavailable)) throw error;
      const reason = `policy engine unavailable (${error.message})`;
      if (failOpen) {
        console.warn(`[policy] FAIL-OPEN: allowing ${input.policy} although ${reason}`);
        outcome = 'unavailable-allowed-fail-open';
        decision = { allow: true, reasons: [reason], policy: input.policy, unavailable: true };
      } else {
        outcome = 'unavailable-denied';
        decision = { allow: false, reasons: [`${reason}: denied`], policy: input.policy, unavailable: true };
      }
    }
    if (audit) {
      const event = auditEvent(input, decision, {
        inputDigest: createHash('sha256').update(canonical).digest('hex'),
        engine: evaluator.kind,
        outcome,
        durationMs: performance.now() - started,
      });
      // Auditing must not turn a decision into an outage; a lost event is logged loudly.
      await audit.publish(event).catch((error: unknown) => {
        console.error('[policy] audit event could not be published', error);
      });
    }
    return decision;
  };

  return {
    evaluator,
    failOpen,
    forRequest() {
      const memo = new Map<string, Promise<ScopedDecision>>();
      let cached = 0;
      return {
        decide(input) {
          // Keyed by the canonical input text; the sha256 is only computed for the audit event.
          const key = stableStringify(input);
          const hit = memo.get(key);
          if (hit) {
            cached++;
            return hit;
          }
          const pending = decideUncached(input, key);
          memo.set(key, pending);
          return pending;
        },
        get evaluated() {
          return memo.size;
        },
        get cached() {
          return cached;
        },
      };
    },
  };
}
