/** Who is asking, as the policy sees it (the verified claims minus what does not decide anything). */
export interface PolicySubject {
  subject: string;
  tenantId: string | null;
  roles: string[];
  capabilities: string[];
  platformAdmin: boolean;
  authMethod: string;
}

/**
 * The input document of one decision. `policy` names the rule (`capability`, `tenant.owner`,
 * `constitution.tool`, ...); the rest is whatever that rule reads. See policies/somaagent/authz.
 */
export interface PolicyInput {
  policy: string;
  subject: PolicySubject | null;
  operation?: { type: 'query' | 'mutation' | 'subscription'; name: string | null; rootFields?: string[] };
  /** `path` has no list indices, so the items of a list ask the same question. */
  field?: { parentType: string; name: string; path: string };
  args?: Record<string, unknown>;
  /** Capabilities demanded by `@requiresCapability`. */
  required?: string[];
  resource?: { tenantId?: string | null; type?: string };
  tool?: { name: string; arguments?: unknown };
  model?: { name: string; maxTokens?: number };
  content?: { categories: string[] };
}

export interface PolicyDecision {
  allow: boolean;
  /** Why it was denied, in the policy's words (empty when allowed). Sorted. */
  reasons: string[];
  policy: string | null;
}

/** One Rego module as the engine holds it. */
export interface PolicyModule {
  /** Path of the module under policies/, e.g. `somaagent/authz/authz.rego`. */
  id: string;
  /** sha256 (hex) of the module text: its version. */
  sha256: string;
}

export interface PolicySetInfo {
  engine: PolicyEvaluator['kind'];
  /** sha256 over every Rego module and data file (scripts/policy/build.ts records it). */
  revision: string;
  modules: PolicyModule[];
}

/**
 * Policy port: asks the Rego in policies/ for a decision. Two adapters evaluate the SAME Rego:
 * `WasmPolicyEvaluator` in-process (embedded mode) and `OpaServerPolicyEvaluator`
 * over REST (distributed mode), both in @somaagent/policy. Both throw {@link PolicyEngineUnavailable} when they cannot
 * decide; callers deny then (fail-closed).
 */
export interface PolicyEvaluator extends AsyncDisposable {
  readonly kind: 'wasm' | 'opa-server';
  evaluate(input: PolicyInput): Promise<PolicyDecision>;
  /**
   * The same decision without a promise, offered by engines that decide in this process (wasm):
   * the router's hot path then resolves a field without going asynchronous. Throws
   * {@link PolicyEngineUnavailable} like `evaluate` rejects. `json`, when given, is `input`
   * already serialised (the decider has it for its cache key): it is not serialised again.
   * @default absent
   */
  evaluateSync?(input: PolicyInput, json?: string): PolicyDecision;
  /** Engine calls made so far (tests and benchmarks assert per-request caching with it). */
  readonly evaluations: number;
  /**
   * Present only on engines whose policy and data can change nowhere but through this object
   * (the in-process wasm engine): bumped on every data change. The decider then reuses
   * decisions across requests until it moves. Absent (the OPA server, whose data can be changed
   * behind our back), decisions are reused within one request only.
   */
  readonly dataRevision?: number;
  /** The modules the engine decides with, and their versions. */
  info(): Promise<PolicySetInfo>;
}

/** The engine could not decide (unreachable, timed out, broken policy). Never means "allow". */
export class PolicyEngineUnavailable extends Error {
  readonly code = 'ERR_POLICY_ENGINE_UNAVAILABLE';
}
