import { readFileSync } from 'node:fs';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import {
  inputDigest,
  PolicyEngineUnavailable,
  type PolicyEvaluator,
  type PolicyInput,
} from '@somaagent/policy';
import { type GraphQLSchema, parse } from 'graphql';

/** Capabilities of the policy domain (stable strings; '*' grants all). */
export const POLICY_CAPABILITIES = ['policy:read', 'policy:explain'] as const;
type PolicyCapability = (typeof POLICY_CAPABILITIES)[number];

export interface PolicySubgraphDeps {
  /** The same engine the router decides with. */
  evaluator: PolicyEvaluator;
}

export interface PolicyContext {
  claims: VerifiedClaims | null;
}

export interface PolicySubgraph {
  name: 'policy';
  schema: GraphQLSchema;
  createContext: (claims: VerifiedClaims | null) => PolicyContext;
}

export const policyTypeDefs = parse(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));

interface ExplainArgs {
  input: {
    policy: string;
    subject?: {
      subject: string;
      tenantId?: string | null;
      roles?: string[] | null;
      capabilities: string[];
      platformAdmin?: boolean | null;
    } | null;
    required?: string[] | null;
    argumentsJson?: string | null;
    resourceTenantId?: string | null;
    operationType?: string | null;
    fieldPath?: string | null;
    toolName?: string | null;
    modelName?: string | null;
    maxTokens?: number | null;
    contentCategories?: string[] | null;
  };
}

// The router checked the capability already; the subgraph checks again (defence in depth).
function requireCapability(claims: VerifiedClaims | null, capability: PolicyCapability): VerifiedClaims {
  if (!claims) throw new SomaError('UNAUTHENTICATED', 'sign in first: this field needs an access token');
  if (
    !claims.platformAdmin &&
    !claims.capabilities.includes('*') &&
    !claims.capabilities.includes(capability)
  ) {
    throw new SomaError('FORBIDDEN', `missing capability "${capability}": ask a tenant admin to grant it`, {
      capability,
    });
  }
  return claims;
}

const OPERATION_TYPES = new Set(['query', 'mutation', 'subscription']);

/** Builds the dry-run input, refusing what a caller may not ask about. */
function explainInput(caller: VerifiedClaims, args: ExplainArgs['input']): PolicyInput {
  let parsedArgs: Record<string, unknown> | undefined;
  if (args.argumentsJson != null) {
    try {
      parsedArgs = JSON.parse(args.argumentsJson) as Record<string, unknown>;
    } catch {
      throw new SomaError('BAD_USER_INPUT', 'argumentsJson is not valid JSON', { field: 'argumentsJson' });
    }
    if (typeof parsedArgs !== 'object' || parsedArgs === null || Array.isArray(parsedArgs)) {
      throw new SomaError('BAD_USER_INPUT', 'argumentsJson must be a JSON object', {
        field: 'argumentsJson',
      });
    }
  }
  if (args.operationType != null && !OPERATION_TYPES.has(args.operationType)) {
    throw new SomaError('BAD_USER_INPUT', 'operationType must be query, mutation or subscription', {
      field: 'operationType',
    });
  }
  const s = args.subject;
  if (s && !caller.platformAdmin) {
    if (s.platformAdmin) {
      throw new SomaError(
        'FORBIDDEN',
        'only platform administrators may explain for a platform administrator',
      );
    }
    if (s.tenantId != null && s.tenantId !== caller.tenantId) {
      throw new SomaError('FORBIDDEN', 'you can explain decisions for subjects of your own tenant only', {
        field: 'subject.tenantId',
      });
    }
  }
  return {
    policy: args.policy,
    subject: s
      ? {
          subject: s.subject,
          tenantId: s.tenantId ?? caller.tenantId,
          roles: s.roles ?? [],
          capabilities: s.capabilities,
          platformAdmin: s.platformAdmin ?? false,
          authMethod: 'password',
        }
      : null,
    ...(args.operationType ? { operation: { type: args.operationType as 'query', name: null } } : {}),
    ...(args.fieldPath
      ? { field: { parentType: 'Query', name: args.fieldPath.split('.').at(-1)!, path: args.fieldPath } }
      : {}),
    ...(parsedArgs ? { args: parsedArgs } : {}),
    ...(args.required ? { required: args.required } : {}),
    ...(args.resourceTenantId !== undefined ? { resource: { tenantId: args.resourceTenantId } } : {}),
    ...(args.toolName ? { tool: { name: args.toolName } } : {}),
    ...(args.modelName
      ? { model: { name: args.modelName, ...(args.maxTokens != null ? { maxTokens: args.maxTokens } : {}) } }
      : {}),
    ...(args.contentCategories ? { content: { categories: args.contentCategories } } : {}),
  };
}

/**
 * Policy administration through the graph: which Rego is in force (modules and versions), and a
 * dry-run of any decision with its reasons ("why was this denied?").
 */
export function createPolicySubgraph(deps: PolicySubgraphDeps): PolicySubgraph {
  const unavailable = (error: unknown): never => {
    if (error instanceof PolicyEngineUnavailable) {
      throw new SomaError('UNAVAILABLE', `${error.message}; retry shortly`);
    }
    throw error;
  };
  const resolvers = {
    Query: {
      policies: async (_: unknown, __: unknown, ctx: PolicyContext) => {
        requireCapability(ctx.claims, 'policy:read');
        const info = await deps.evaluator.info().catch(unavailable);
        return { ...info, engine: info.engine === 'wasm' ? 'WASM' : 'OPA_SERVER' };
      },
      explainPolicyDecision: async (_: unknown, { input }: ExplainArgs, ctx: PolicyContext) => {
        const caller = requireCapability(ctx.claims, 'policy:explain');
        const policyInput = explainInput(caller, input);
        const decision = await deps.evaluator.evaluate(policyInput).catch(unavailable);
        return {
          ...decision,
          inputDigest: inputDigest(policyInput),
          inputJson: JSON.stringify(policyInput),
        };
      },
    },
  };
  return {
    name: 'policy',
    schema: buildSubgraphSchema([{ typeDefs: policyTypeDefs, resolvers: resolvers as never }]),
    createContext: (claims) => ({ claims }),
  };
}
