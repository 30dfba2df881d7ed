export {
  createPolicyDecider,
  inputDigest,
  type PolicyDecider,
  type PolicyDeciderOptions,
  type RequestPolicyScope,
  type ScopedDecision,
} from './createPolicyDecider';
export {
  OpaServerPolicyEvaluator,
  type OpaServerPolicyEvaluatorOptions,
  publishPoliciesToOpa,
} from './OpaServerPolicyEvaluator';
export {
  DECISION_PATH,
  type PolicyDecision,
  PolicyEngineUnavailable,
  type PolicyEvaluator,
  type PolicyInput,
  type PolicyModule,
  type PolicySetInfo,
  type PolicySubject,
  policySubject,
  toDecision,
} from './PolicyEvaluator';
export {
  AUDIT_TOPIC,
  type AuditSink,
  auditEvent,
  PLATFORM_TENANT,
  POLICY_DECISION_EVENT,
  type PolicyDecisionAudit,
} from './policyAudit';
export {
  COMPILED_DIR,
  type CompiledManifest,
  POLICIES_DIR,
  type PolicySource,
  readCompiledManifest,
  readPolicySources,
  sourcesRevision,
} from './policySources';
export {
  createWasmPolicyEvaluator,
  WasmPolicyEvaluator,
  type WasmPolicyEvaluatorOptions,
} from './WasmPolicyEvaluator';
