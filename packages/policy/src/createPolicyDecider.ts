import { hash } from 'node:crypto';
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
  /**
   * Audit events handed to the sink and not yet acknowledged beyond which a decision waits for
   * its own event's publish (back-pressure: a stuck broker slows requests down instead of
   * growing memory without bound). Below it, a decision is returned as soon as its event is
   * handed to the sink. @default 1000
   */
  maxPendingAudits?: number;
  /**
   * Decisions kept for reuse by LATER requests, on engines that report a `dataRevision` (the
   * in-process wasm engine): a decision is a pure function of the canonical input and the
   * policy data, so it is reused until the data changes; every reuse is still audited (outcome
   * `reused`). Engine-unavailable answers are never kept. 0 turns reuse across requests off.
   * @default 10_000 (ignored for engines without `dataRevision`)
   */
  sharedDecisions?: number;
}

/** A decision as the router uses it: `unavailable` marks a fail-closed denial. */
export interface ScopedDecision extends PolicyDecision {
  unavailable: boolean;
}

/** The decisions of ONE request: each distinct question is asked once. */
export interface RequestPolicyScope {
  decide(input: PolicyInput): Promise<ScopedDecision>;
  /**
   * Like {@link decide}, but returns the decision itself (no promise) when the engine decides
   * in-process (`evaluateSync`) or the question was already answered in this request, and the
   * audit queue is below its bound. The router's resolvers stay synchronous that way.
   */
  decideNow(input: PolicyInput): ScopedDecision | Promise<ScopedDecision>;
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
  /** Resolves once every audit event published so far has been acknowledged by the sink (or failed and been logged). */
  flushAudit(): Promise<void>;
}

/** sha256 (hex) of the canonical input: what audit events and `explainPolicyDecision` show. */
export const inputDigest = (input: PolicyInput) => hash('sha256', stableStringify(input), 'hex');

// The subject and operation of a request's questions are one object each (the router builds
// them once per request / parsed document): their canonical text is computed once. Inputs are
// treated as immutable once asked.
const canonicalParts = new WeakMap<object, string>();
const MEMOISED_KEYS = new Set(['subject', 'operation']);

/** `stableStringify(input)`, byte for byte, with the subject's and operation's text memoised. */
function canonicalInput(input: PolicyInput): string {
  const record = input as unknown as Record<string, unknown>;
  let out = '{';
  for (const key of Object.keys(record).sort()) {
    const value = record[key];
    if (value === undefined) continue;
    let text: string | undefined;
    if (MEMOISED_KEYS.has(key) && typeof value === 'object' && value !== null) {
      text = canonicalParts.get(value);
      if (text === undefined) {
        text = stableStringify(value);
        canonicalParts.set(value, text);
      }
    } else text = stableStringify(value);
    out += `${out.length === 1 ? '' : ','}${JSON.stringify(key)}:${text}`;
  }
  return `${out}}`;
}

const isPromise = <T>(value: T | Promise<T>): value is Promise<T> =>
  typeof (value as { then?: unknown } | null)?.then === 'function';

type Outcome = 'decided' | 'reused' | 'unavailable-denied' | 'unavailable-allowed-fail-open';

interface SharedDecision {
  decision: ScopedDecision;
  digest: string;
  dataRevision: number;
}

/**
 * Wraps an evaluator with what every caller needs: fail-closed handling, per-request decision
 * caching keyed by the whole input document (subject, policy, field without list indices,
 * arguments, resource), reuse of decisions across requests on the in-process engine until its
 * data changes ({@link PolicyDeciderOptions.sharedDecisions}), and audit events.
 *
 * Audit trade-off: every evaluated decision produces its event, synchronously handed to the
 * sink before the decision is returned (the in-process bus delivers it then and there), but the
 * decision does not wait for the sink's acknowledgement (Kafka's ack) unless
 * {@link PolicyDeciderOptions.maxPendingAudits} are already unacknowledged. A failed publish
 * never failed a request (it is logged), so what waiting bought was only that a response could
 * not leave before its event was durable; a crash in that window can now lose the events of
 * decisions already acted on. {@link PolicyDecider.flushAudit} waits for them (the router's
 * close does).
 */
export function createPolicyDecider(options: PolicyDeciderOptions): PolicyDecider {
  const { evaluator, audit } = options;
  const failOpen = options.failOpen ?? false;
  const maxPendingAudits = options.maxPendingAudits ?? 1000;
  if (failOpen) {
    console.warn(
      '[policy] FAIL-OPEN IS ON: requests are ALLOWED when the policy engine cannot decide. Never do this in production.',
    );
  }
  const pendingAudits = new Set<Promise<void>>();
  const sharedLimit = evaluator.dataRevision === undefined ? 0 : (options.sharedDecisions ?? 10_000);
  // Insertion-ordered: when full, the oldest decision goes (a bound on memory, not an LRU; a
  // question asked again after eviction costs one engine call).
  const shared = new Map<string, SharedDecision>();

  const unavailable = (input: PolicyInput, error: unknown): [ScopedDecision, Outcome] => {
    if (!(error instanceof PolicyEngineUnavailable)) throw error;
    const reason = `policy engine unavailable (${error.message})`;
    if (failOpen) {
      console.warn(`[policy] FAIL-OPEN: allowing ${input.policy} although ${reason}`);
      return [
        { allow: true, reasons: [reason], policy: input.policy, unavailable: true },
        'unavailable-allowed-fail-open',
      ];
    }
    return [
      { allow: false, reasons: [`${reason}: denied`], policy: input.policy, unavailable: true },
      'unavailable-denied',
    ];
  };

  /** Publishes the decision's event; a promise only when the decision must wait for it. */
  const record = (
    input: PolicyInput,
    digest: string,
    decision: ScopedDecision,
    outcome: Outcome,
    started: number,
  ): Promise<void> | undefined => {
    if (!audit) return undefined;
    const event = auditEvent(input, decision, {
      inputDigest: digest,
      engine: evaluator.kind,
      outcome,
      durationMs: performance.now() - started,
    });
    // Auditing must not turn a decision into an outage; a lost event is logged loudly.
    const published = audit
      .publish(event)
      .catch((error: unknown) => {
        console.error('[policy] audit event could not be published', error);
      })
      .finally(() => pendingAudits.delete(published));
    pendingAudits.add(published);
    return pendingAudits.size > maxPendingAudits ? published : undefined;
  };

  const decideUncached = (
    input: PolicyInput,
    canonical: string,
  ): ScopedDecision | Promise<ScopedDecision> => {
    const started = performance.now();
    const revision = evaluator.dataRevision;
    if (sharedLimit > 0 && revision !== undefined) {
      const reuse = shared.get(canonical);
      if (reuse && reuse.dataRevision === revision) {
        const waiting = record(input, reuse.digest, reuse.decision, 'reused', started);
        return waiting ? waiting.then(() => reuse.decision) : reuse.decision;
      }
    }
    // One-shot hash: no Hash object per decision.
    const digest = hash('sha256', canonical, 'hex');
    const keep = (decision: ScopedDecision, outcome: Outcome) => {
      if (sharedLimit === 0 || revision === undefined || outcome !== 'decided') return;
      // Asked while the data changed: the answer may be of either version, so it is not kept.
      if (evaluator.dataRevision !== revision) return;
      // Frozen: one answer object now serves many requests.
      Object.freeze(decision.reasons);
      shared.set(canonical, { decision: Object.freeze(decision), digest, dataRevision: revision });
      if (shared.size > sharedLimit) shared.delete(shared.keys().next().value!);
    };
    if (evaluator.evaluateSync) {
      let decision: ScopedDecision;
      let outcome: Outcome = 'decided';
      try {
        decision = { ...evaluator.evaluateSync(input, canonical), unavailable: false };
      } catch (error) {
        [decision, outcome] = unavailable(input, error);
      }
      keep(decision, outcome);
      const waiting = record(input, digest, decision, outcome, started);
      return waiting ? waiting.then(() => decision) : decision;
    }
    return (async () => {
      let decision: ScopedDecision;
      let outcome: Outcome = 'decided';
      try {
        decision = { ...(await evaluator.evaluate(input)), unavailable: false };
      } catch (error) {
        [decision, outcome] = unavailable(input, error);
      }
      keep(decision, outcome);
      await record(input, digest, decision, outcome, started);
      return decision;
    })();
  };

  return {
    evaluator,
    failOpen,
    forRequest() {
      const memo = new Map<string, ScopedDecision | Promise<ScopedDecision>>();
      let cached = 0;
      const decideNow = (input: PolicyInput): ScopedDecision | Promise<ScopedDecision> => {
        // Keyed by the canonical input text; the sha256 is only computed for the audit event.
        const key = canonicalInput(input);
        const hit = memo.get(key);
        if (hit) {
          cached++;
          return hit;
        }
        const answer = decideUncached(input, key);
        memo.set(key, answer);
        // Once settled, later askers get the decision itself.
        if (isPromise(answer)) {
          answer.then(
            (d) => memo.set(key, d),
            () => undefined, // the asker gets the rejection; the memo keeps the rejected promise
          );
        }
        return answer;
      };
      return {
        decideNow,
        async decide(input) {
          return decideNow(input);
        },
        get evaluated() {
          return memo.size;
        },
        get cached() {
          return cached;
        },
      };
    },
    async flushAudit() {
      while (pendingAudits.size > 0) await Promise.all(pendingAudits);
    },
  };
}
