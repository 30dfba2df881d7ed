import { readFileSync } from 'node:fs';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { Connection } from '@somaagent/pagination';
import type { PolicyEvaluator } from '@somaagent/policy';
import type {
  CapsuleRunStore,
  ObjectStorage,
  SqlDatabase,
  StreamLog,
  WorkflowEngine,
} from '@somaagent/ports';
import { type GraphQLSchema, parse } from 'graphql';
import { CapsuleService, type CapsulesLimits, DEFAULT_CAPSULES_LIMITS } from './CapsuleService';
import { requireCaller } from './capabilities';
import type { Resolvers } from './generated/resolvers-types';
import type { CapsuleRunEventModel } from './models';
import { capsuleJsonSchema } from './parseCapsuleDefinition';
import { SqlCapsuleRunStore } from './SqlCapsuleRunStore';

export interface CapsulesDeps {
  db: SqlDatabase;
  /**
   * Where runs execute: the embedded JournalWorkflowEngine or TemporalWorkflowEngine, or how to
   * get it on first use (the embedded run worker writes through this subgraph's `runStore`, so
   * it is built after the subgraph).
   */
  engine: WorkflowEngine | (() => Promise<WorkflowEngine>);
  /** Where artifact steps wrote; download URLs are presigned here. */
  storage: ObjectStorage;
  /** Wakes run-event subscriptions (the activities append to it). */
  streams: StreamLog;
  limits?: Partial<CapsulesLimits>;
  /**
   * Checks the names under a definition's `policies` when it is published (the same engine the
   * router and the run activities decide with). @default none: names are not checked at publish
   * time; a run still denies a step whose policy cannot be checked
   */
  policy?: PolicyEvaluator;
}

export interface CapsulesContext {
  claims: VerifiedClaims | null;
}

export interface CapsulesSubgraph {
  name: 'capsules';
  schema: GraphQLSchema;
  createContext: (claims: VerifiedClaims | null) => CapsulesContext;
  service: CapsuleService;
  /** The CapsuleRunStore port on this domain's tables: the run workers write run state only through it. */
  runStore: CapsuleRunStore;
}

export const capsulesTypeDefs = parse(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));

const connection = <R, N>(c: Connection<R>, map: (r: R) => N): Connection<N> => ({
  ...c,
  edges: c.edges.map((e) => ({ cursor: e.cursor, node: map(e.node) })),
});
const same = <T>(x: T) => x;

/** The capsules subgraph: build it, then serve it with `serveSubgraph`. */
export function createCapsulesSubgraph(deps: CapsulesDeps): CapsulesSubgraph {
  const service = new CapsuleService(
    deps.db,
    deps.engine,
    deps.storage,
    deps.streams,
    { ...DEFAULT_CAPSULES_LIMITS, ...deps.limits },
    deps.policy,
  );
  const resolvers: Resolvers = {
    Query: {
      capsuleDefinitionSchema: (_, __, ctx) => {
        requireCaller(ctx.claims, 'capsules:read');
        return capsuleJsonSchema;
      },
      capsules: async (_, args, ctx) => connection(await service.capsules(ctx.claims, args), same),
      capsule: (_, { name, version }, ctx) => service.capsule(ctx.claims, name, version),
      capsuleRuns: async (_, args, ctx) => connection(await service.runs(ctx.claims, args), same),
      capsuleRun: (_, { id }, ctx) => service.run(ctx.claims, id),
    },
    Mutation: {
      createCapsule: (_, { source }, ctx) => service.createCapsule(ctx.claims, source),
      updateCapsule: (_, { source }, ctx) => service.updateCapsule(ctx.claims, source),
      startCapsuleRun: (_, { input }, ctx) => service.startRun(ctx.claims, input),
      cancelCapsuleRun: (_, { id }, ctx) => service.cancelRun(ctx.claims, id),
      approveCapsuleStep: (_, { input }, ctx) => service.decide(ctx.claims, input, true),
      rejectCapsuleStep: (_, { input }, ctx) => service.decide(ctx.claims, input, false),
    },
    Subscription: {
      capsuleRun: {
        subscribe: (_, args, ctx) => service.events(ctx.claims, args.runId, args.afterSequence ?? 0),
        resolve: (event: CapsuleRunEventModel) => event,
      },
    },
    Capsule: {
      __resolveReference: (ref, ctx) => service.capsuleById(ctx.claims, ref.id),
    },
    CapsuleRun: {
      __resolveReference: async (ref, ctx) => {
        try {
          return await service.run(ctx.claims, ref.id);
        } catch (error) {
          if (error instanceof SomaError && (error.code === 'NOT_FOUND' || error.code === 'FORBIDDEN'))
            return null;
          throw error;
        }
      },
      capsule: async (run, _, ctx) => {
        const capsule = await service.capsuleById(ctx.claims, run.capsuleId);
        if (!capsule) throw new SomaError('NOT_FOUND', `capsule ${run.capsuleId} not found`);
        return capsule;
      },
      steps: (run, _, ctx) => service.steps(ctx.claims, run.id),
      artifacts: (run, args, ctx) => service.artifacts(ctx.claims, run.id, args.expiresInSeconds ?? 900),
    },
  };
  const schema = buildSubgraphSchema([{ typeDefs: capsulesTypeDefs, resolvers: resolvers as never }]);
  return {
    name: 'capsules',
    schema,
    createContext: (claims) => ({ claims }),
    service,
    runStore: new SqlCapsuleRunStore(deps.db),
  };
}
