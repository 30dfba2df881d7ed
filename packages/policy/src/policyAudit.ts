import type { EventBus } from '@somaagent/ports';
import type { PolicyDecision, PolicyEvaluator, PolicyInput } from './PolicyEvaluator';

/** Topic of policy decisions (Kafka topic `agent.audit` in distributed mode). */
export const AUDIT_TOPIC = 'agent.audit';
export const POLICY_DECISION_EVENT = 'policy.decision';

/** Payload of one `policy.decision` audit event. */
export interface PolicyDecisionAudit {
  /** Token subject, or null for an anonymous caller. */
  subject: string | null;
  policy: string;
  /** sha256 of the canonical input document (the input itself may hold arguments worth keeping out). */
  inputDigest: string;
  result: 'allow' | 'deny';
  reasons: string[];
  engine: PolicyEvaluator['kind'];
  /**
   * `decided`: the engine was asked. `reused`: the same question (same canonical input, same
   * policy data) was decided by the engine for an earlier request and its answer reused.
   * `unavailable-*`: the engine could not decide and the request was denied (or allowed
   * fail-open).
   */
  outcome: 'decided' | 'reused' | 'unavailable-denied' | 'unavailable-allowed-fail-open';
  operation: string | null;
  fieldPath: string | null;
  durationMs: number;
}

/** Tenant key of audit events of callers who act on no tenant (anonymous, platform admins). */
export const PLATFORM_TENANT = 'platform';

export function auditEvent(
  input: PolicyInput,
  decision: PolicyDecision,
  extra: Pick<PolicyDecisionAudit, 'inputDigest' | 'engine' | 'outcome' | 'durationMs'>,
) {
  const payload: PolicyDecisionAudit = {
    subject: input.subject?.subject ?? null,
    policy: input.policy,
    result: decision.allow ? 'allow' : 'deny',
    reasons: decision.reasons,
    operation: input.operation?.name ?? null,
    fieldPath: input.field?.path ?? null,
    ...extra,
  };
  return {
    topic: AUDIT_TOPIC,
    tenantId: input.subject?.tenantId ?? PLATFORM_TENANT,
    type: POLICY_DECISION_EVENT,
    payload,
    occurredAt: new Date().toISOString(),
  };
}

/** Where audit events go: the event port. Kafka's adapter plugs in here unchanged. */
export type AuditSink = Pick<EventBus, 'publish'>;
