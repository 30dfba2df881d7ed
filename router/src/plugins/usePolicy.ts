import type { GatewayPlugin } from '@graphql-hive/gateway-runtime';
import { SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import {
  type PolicyDecider,
  type PolicyInput,
  type PolicySubject,
  policySubject,
  type RequestPolicyScope,
  type ScopedDecision,
} from '@somaagent/policy';
import {
  type DocumentNode,
  defaultFieldResolver,
  type ExecutionResult,
  GraphQLError,
  type GraphQLFieldResolver,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  getOperationAST,
  isObjectType,
  Kind,
} from 'graphql';
import type { FieldPolicy, PolicyDirectiveMap } from './usePolicyDirectives';

/** Context keys this plugin reads and adds. */
export interface SomaPolicyContext {
  somaClaims?: VerifiedClaims | null;
  /** This request's decisions (one engine call per distinct question). */
  somaPolicy?: RequestPolicyScope;
  /** Field questions of this request: allowed (`true`), being decided, or denied (the error). */
  somaFieldDecisions?: Map<string, true | Promise<void> | SomaError>;
  /** The subject every policy question of this request carries. */
  somaPolicySubject?: PolicySubject | null;
}

export interface UsePolicyOptions {
  decider: PolicyDecider;
  /** From {@link readPolicyDirectives} on the supergraph SDL. */
  directives: PolicyDirectiveMap;
  /**
   * Ask the `operation` policy once per operation (suspended or read-only tenants).
   * @default true
   */
  operationPolicy?: boolean;
}

const WRAPPED = Symbol.for('somaagent.policy.wrapped');

/**
 * The denial as a GraphQL error: FORBIDDEN with the policy's reasons (UNAUTHENTICATED when the
 * caller is anonymous: signing in may help), or UNAVAILABLE when the engine could not decide.
 */
export function policyError(decision: ScopedDecision, anonymous: boolean, path?: string): SomaError {
  const policy = decision.policy ?? 'unknown';
  const details = { policy, reasons: decision.reasons, ...(path ? { field: path } : {}) };
  if (decision.unavailable) {
    return new SomaError(
      'UNAVAILABLE',
      `${decision.reasons[0] ?? 'policy engine unavailable'} (fail-closed); retry shortly`,
      details,
    );
  }
  const why = decision.reasons.join('; ') || 'denied by policy';
  return new SomaError(
    anonymous ? 'UNAUTHENTICATED' : 'FORBIDDEN',
    `denied by policy "${policy}": ${why}`,
    details,
  );
}

/** `sessions.edges.node.messages`: the response path without list indices. */
function fieldPath(info: GraphQLResolveInfo): string {
  let path = '';
  for (let p: GraphQLResolveInfo['path'] | undefined = info.path; p; p = p.prev) {
    if (typeof p.key === 'string') path = path ? `${p.key}.${path}` : p.key;
  }
  return path;
}

type OperationSummary = NonNullable<PolicyInput['operation']>;
type FieldOperation = Pick<OperationSummary, 'type' | 'name'>;
// The `operation` of field questions, one object per operation node of a cached document: the
// decider memoises the canonical text of an input's operation by object, so a fresh literal per
// question would be serialised again for every field.
const fieldOperations = new WeakMap<object, FieldOperation>();
function fieldOperationOf(info: GraphQLResolveInfo): FieldOperation {
  let operation = fieldOperations.get(info.operation);
  if (!operation) {
    operation = { type: info.operation.operation, name: info.operation.name?.value ?? null };
    fieldOperations.set(info.operation, operation);
  }
  return operation;
}
// Hive Gateway caches parsed documents, so the same query text arrives as the same object:
// the operation's summary is worked out once per document, not per request.
const operations = new WeakMap<DocumentNode, Map<string, OperationSummary | null>>();

function operationOf(document: DocumentNode, operationName: string | null | undefined) {
  let byName = operations.get(document);
  if (!byName) {
    byName = new Map();
    operations.set(document, byName);
  }
  const cached = byName.get(operationName ?? '');
  if (cached !== undefined) return cached;
  const operation = getOperationAST(document, operationName ?? undefined);
  const summary: OperationSummary | null = operation
    ? {
        type: operation.operation,
        name: operation.name?.value ?? null,
        rootFields: operation.selectionSet.selections.flatMap((s) =>
          s.kind === Kind.FIELD && s.name.value !== '__typename' ? [s.name.value] : [],
        ),
      }
    : null;
  byName.set(operationName ?? '', summary);
  return summary;
}

/**
 * Enforces `@policy` / `@requiresCapability` from the supergraph: before a field with either
 * resolves, the Rego in policies/ is asked with the verified claims, the operation, the field
 * path (list indices left out) and the arguments. A denied field resolves to an error at its
 * path and the rest of the response is served (partial results). Every operation also asks the
 * `operation` policy once. Decisions are cached per request by their whole input, so a list of
 * 100 items asks once. The engine being unreachable denies (fail-closed) unless the decider was
 * built fail-open for development.
 */
export function usePolicy(options: UsePolicyOptions): GatewayPlugin<SomaPolicyContext> {
  const { decider, directives } = options;
  const operationPolicy = options.operationPolicy ?? true;

  const scopeOf = (context: SomaPolicyContext): RequestPolicyScope => {
    // The scope is attached when execution starts; a resolver running without one (should not
    // happen) still decides, just without sharing the cache.
    context.somaPolicy ??= decider.forRequest();
    return context.somaPolicy;
  };
  // Built once per operation (one object for every question: the decider serialises it each time).
  const subjectOf = (context: SomaPolicyContext) => {
    if (context.somaPolicySubject === undefined)
      context.somaPolicySubject = policySubject(context.somaClaims);
    return context.somaPolicySubject;
  };

  /**
   * Decides every policy of a field. Returns `undefined` when all allow and were decided without
   * waiting (the wasm engine, or the items of a list after the first): the resolver then stays
   * synchronous. Throws the denial; a promise when the engine answers asynchronously.
   */
  const check = (
    policies: readonly FieldPolicy[],
    root: unknown,
    args: Record<string, unknown>,
    context: SomaPolicyContext,
    info: GraphQLResolveInfo,
  ): Promise<void> | undefined => {
    const path = fieldPath(info);
    const rootTenant =
      root && typeof root === 'object' && typeof (root as { tenantId?: unknown }).tenantId === 'string'
        ? (root as { tenantId: string }).tenantId
        : undefined;
    const tenantArg = typeof args.tenantId === 'string' ? args.tenantId : undefined;
    const tenant = rootTenant ?? tenantArg ?? null;
    // A cheap key for the question this field asks; the decider's cache (keyed by the whole
    // input) stays the source of truth, this only skips rebuilding and serialising it.
    const key = `${info.parentType.name}.${info.fieldName}\0${path}\0${tenant}\0${JSON.stringify(args)}`;
    context.somaFieldDecisions ??= new Map();
    const known = context.somaFieldDecisions;
    const settled = known.get(key);
    if (settled === true) return undefined;
    // The items of a list start resolving before the first one's decision is back: share it.
    if (settled instanceof Promise) return settled;
    if (settled) throw settled;

    const scope = scopeOf(context);
    const subject = subjectOf(context);
    const operation = fieldOperationOf(info);
    const inputOf = (p: FieldPolicy): PolicyInput => ({
      policy: p.policy,
      subject,
      operation,
      field: { parentType: info.parentType.name, name: info.fieldName, path },
      args,
      ...(p.required ? { required: p.required } : {}),
      resource: { type: info.parentType.name, tenantId: tenant },
    });
    const denied = (decision: ScopedDecision) => {
      const error = policyError(decision, subject === null, path);
      known.set(key, error);
      return error;
    };
    for (let i = 0; i < policies.length; i++) {
      const decision = scope.decideNow(inputOf(policies[i]!));
      if (decision instanceof Promise) {
        // The engine answers asynchronously (OPA server): finish this field's policies in order.
        const pending = (async () => {
          let d = await decision;
          for (let j = i; ; ) {
            if (!d.allow) throw denied(d);
            if (++j >= policies.length) break;
            d = await scope.decideNow(inputOf(policies[j]!));
          }
          known.set(key, true);
        })();
        known.set(key, pending);
        return pending;
      }
      if (!decision.allow) throw denied(decision);
    }
    known.set(key, true);
    return undefined;
  };

  const wrapSchema = (schema: GraphQLSchema) => {
    const subscriptionType = schema.getSubscriptionType();
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__')) continue;
      for (const field of Object.values(type.getFields())) {
        const policies = directives.get(`${type.name}.${field.name}`);
        const marked = field as unknown as Record<symbol, boolean>;
        if (!policies?.length || marked[WRAPPED]) continue;
        marked[WRAPPED] = true;
        if (type === subscriptionType && field.subscribe) {
          // Subscriptions are refused when they start, not on every event.
          const subscribe = field.subscribe;
          field.subscribe = async (root, args, context: SomaPolicyContext, info) => {
            await check(policies, root, args, context, info);
            return subscribe(root, args, context, info);
          };
          continue;
        }
        const resolve: GraphQLFieldResolver<unknown, SomaPolicyContext> =
          field.resolve ?? defaultFieldResolver;
        field.resolve = (root, args, context: SomaPolicyContext, info) => {
          const pending = check(policies, root, args, context, info);
          if (!pending) return resolve(root, args, context, info);
          return pending.then(() => resolve(root, args, context, info));
        };
      }
    }
  };

  /** Asks the `operation` policy; a promise only when the engine answers asynchronously. */
  const onOperation = (
    args: { document: DocumentNode; operationName?: string | null; contextValue: unknown },
    stop: (result: ExecutionResult) => void,
  ): Promise<void> | undefined => {
    const context = args.contextValue as SomaPolicyContext;
    const scope = decider.forRequest();
    context.somaPolicy = scope;
    context.somaFieldDecisions = new Map();
    const subject = policySubject(context.somaClaims);
    context.somaPolicySubject = subject;
    if (!operationPolicy) return undefined;
    const operation = operationOf(args.document, args.operationName);
    if (!operation) return undefined;
    const settle = (decision: ScopedDecision) => {
      if (decision.allow) return;
      const error = policyError(decision, subject === null);
      stop({ data: null, errors: [new GraphQLError(error.message, { extensions: error.extensions })] });
    };
    const decision = scope.decideNow({ policy: 'operation', subject, operation });
    if (decision instanceof Promise) return decision.then(settle);
    settle(decision);
    return undefined;
  };

  return {
    onSchemaChange({ schema }) {
      wrapSchema(schema);
    },
    onExecute({ args, setResultAndStopExecution }) {
      return onOperation(args, setResultAndStopExecution);
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      return onOperation(args, setResultAndStopExecution);
    },
  };
}
