import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { PolicyDecider } from '@somaagent/policy';
import type {
  CrossDomainPortName,
  CrossDomainPorts,
  EmbeddingModel,
  EventBus,
  Migration,
  ObjectStorage,
  PolicyEvaluator,
  SqlDatabase,
  StreamLog,
  WorkflowEngine,
} from '@somaagent/ports';
import type { GraphQLSchema } from 'graphql';
import type { ServeSubgraphOptions } from './serveSubgraph';

/** What a created subgraph hands the composition root: enough to serve it over HTTP and run it in process. */
export interface SubgraphInstance<TContext = unknown> {
  readonly name: string;
  readonly schema: GraphQLSchema;
  createContext(claims: VerifiedClaims | null): TContext | Promise<TContext>;
  /** Extra plain-HTTP GET routes its server answers (identity's JWKS). @default none */
  readonly getRoutes?: ServeSubgraphOptions<object>['getRoutes'];
  /** Releases what `create` opened (pollers, relays). @default nothing to release */
  [Symbol.asyncDispose]?(): PromiseLike<void>;
}

/**
 * The infrastructure the composition root builds once per process and hands every module. A
 * module takes what it needs and never builds any of it itself, so the embedded platform and a
 * distributed process differ only in which adapters sit here.
 */
export interface ModuleRuntime {
  db: SqlDatabase;
  events: EventBus;
  /** Resumable per-key streams (session generations, capsule run events). */
  streams: StreamLog;
  /** Capsule artifacts. */
  objectStorage: ObjectStorage;
  /** The policy engine the router and the policy subgraph ask. */
  policyEvaluator: PolicyEvaluator;
  /** One decider over `policyEvaluator`: same fail-closed switch and audit sink everywhere. */
  policy: PolicyDecider;
  /** Memory's embedding model. */
  embedder: EmbeddingModel;
  /** Every capability of every module in the process's list (identity validates role grants against it). */
  knownCapabilities: readonly string[];
  /**
   * Where capsule runs execute. Built on first call, after the modules earlier in the list have
   * provided their ports (the run worker's memory-recall steps use `capsuleRecall`).
   */
  workflowEngine(): Promise<WorkflowEngine>;
}

/** What `create` receives: the shared runtime, the cross-domain ports it `needs`, and its own config. */
export interface ModuleDeps<TConfig, TNeeds extends CrossDomainPortName> {
  runtime: ModuleRuntime;
  /** Exactly the ports named in `needs` (the composition root refuses to start without them). */
  ports: Pick<CrossDomainPorts, TNeeds>;
  config: TConfig;
}

/**
 * One domain as the composition root sees it (platform/): every subgraph exports one from
 * `src/module.ts`, and the root migrates, creates, serves and disposes by looping over the list
 * of them. Adding a domain is its folder, one list entry and its line in supergraph.yaml.
 *
 * @example
 * export const memoryModule = defineSubgraphModule({
 *   name: 'memory',
 *   migrations: memoryMigrations,
 *   capabilities: MEMORY_CAPABILITIES,
 *   provides: ['sessionContext', 'capsuleRecall'],
 *   needs: [],
 *   create: ({ runtime, config }: ModuleDeps<MemoryModuleConfig, never>) =>
 *     createMemorySubgraph({ db: runtime.db, embedder: runtime.embedder, ...config }),
 * });
 */
export interface SubgraphModule<
  TName extends string = string,
  TConfig = unknown,
  TInstance extends SubgraphInstance = SubgraphInstance,
  TNeeds extends CrossDomainPortName = CrossDomainPortName,
> {
  /** The subgraph's name in supergraph.yaml (and the router's URL map). */
  readonly name: TName;
  /** Its schema's migrations, applied by the root before anything is created. */
  readonly migrations: readonly Migration[];
  /** The capabilities its `@requiresCapability` directives name. */
  readonly capabilities: readonly string[];
  /**
   * Cross-domain ports this domain implements; the root turns its instance into each through the
   * bridge of that name (platform/src/bridges/).
   */
  readonly provides: readonly CrossDomainPortName[];
  /** Cross-domain ports it consumes; an earlier module in the list must provide each. */
  readonly needs: readonly TNeeds[];
  create(deps: ModuleDeps<TConfig, TNeeds>): Promise<TInstance>;
}

/** Identity function that keeps a module's literal name, config, instance and needs types. */
export function defineSubgraphModule<
  TName extends string,
  TConfig,
  TInstance extends SubgraphInstance,
  TNeeds extends CrossDomainPortName = never,
>(
  module: SubgraphModule<TName, TConfig, TInstance, TNeeds>,
): SubgraphModule<TName, TConfig, TInstance, TNeeds> {
  return module;
}

/** The config type of a module, for the composition root's per-module settings. */
export type ModuleConfig<M> = M extends {
  create(deps: ModuleDeps<infer C, infer _N extends CrossDomainPortName>): unknown;
}
  ? C
  : never;
/** The instance type a module creates. */
export type ModuleInstance<M> = M extends { create(deps: never): Promise<infer I> } ? I : never;
