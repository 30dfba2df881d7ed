import type { GraphQLResolveInfo, GraphQLScalarType, GraphQLScalarTypeConfig } from 'graphql';
import type { CapsuleModel, CapsuleRunModel, CapsuleRunEventModel } from '../models';
import type { CapsulesContext } from '../createCapsulesSubgraph';
export type Maybe<T> = T | null;
export type InputMaybe<T> = Maybe<T>;
export type Omit<T, K extends keyof T> = Pick<T, Exclude<keyof T, K>>;
export type RequireFields<T, K extends keyof T> = Omit<T, K> & { [P in K]-?: NonNullable<T[P]> };
/** All built-in and custom scalars, mapped to their actual values */
export type Scalars = {
  ID: { input: string; output: string; }
  String: { input: string; output: string; }
  Boolean: { input: boolean; output: boolean; }
  Int: { input: number; output: number; }
  Float: { input: number; output: number; }
  /** ISO 8601 timestamp in UTC, e.g. 2026-01-31T12:00:00.000Z. */
  DateTime: { input: string; output: string; }
  /** Any JSON value; metadata is a JSON object. */
  JSON: { input: unknown; output: unknown; }
  _FieldSet: { input: unknown; output: unknown; }
};

/** A versioned task definition of the caller's tenant (docs/capsules.md). Versions are immutable. */
export type Capsule = {
  __typename?: 'Capsule';
  /** Capabilities a caller needs, besides capsules:run, to start a run. */
  capabilities: Array<Scalars['String']['output']>;
  createdAt: Scalars['DateTime']['output'];
  createdBy: Scalars['String']['output'];
  /** The parsed definition (the shape of capsuleDefinitionSchema). */
  definition: Scalars['JSON']['output'];
  description?: Maybe<Scalars['String']['output']>;
  id: Scalars['ID']['output'];
  /** JSON Schema the run inputs must satisfy, if the definition has one. */
  inputsSchema?: Maybe<Scalars['JSON']['output']>;
  name: Scalars['String']['output'];
  /** The definition as submitted (YAML or JSON). */
  source: Scalars['String']['output'];
  /** Semantic version, MAJOR.MINOR.PATCH. */
  version: Scalars['String']['output'];
};

/** A file a run's artifact step wrote to object storage. */
export type CapsuleArtifact = {
  __typename?: 'CapsuleArtifact';
  contentType: Scalars['String']['output'];
  createdAt: Scalars['DateTime']['output'];
  /** Anyone holding this URL can download the file until urlExpiresAt; refused (403) afterwards. */
  downloadUrl: Scalars['String']['output'];
  id: Scalars['ID']['output'];
  name: Scalars['String']['output'];
  size: Scalars['Int']['output'];
  stepKey: Scalars['String']['output'];
  urlExpiresAt: Scalars['DateTime']['output'];
};

export type CapsuleConnection = {
  __typename?: 'CapsuleConnection';
  edges: Array<CapsuleEdge>;
  pageInfo: PageInfo;
  totalCount: Scalars['Int']['output'];
};

export type CapsuleEdge = {
  __typename?: 'CapsuleEdge';
  cursor: Scalars['String']['output'];
  node: Capsule;
};

/** An execution of one capsule version: a durable workflow. */
export type CapsuleRun = {
  __typename?: 'CapsuleRun';
  /** expiresInSeconds: 1..86400, default 900. */
  artifacts: Array<CapsuleArtifact>;
  capsule: Capsule;
  createdAt: Scalars['DateTime']['output'];
  /** The workflow engine executing it: journal (embedded) or temporal. */
  engine: Scalars['String']['output'];
  /** Why the run failed or was cancelled. */
  error?: Maybe<Scalars['String']['output']>;
  finishedAt?: Maybe<Scalars['DateTime']['output']>;
  id: Scalars['ID']['output'];
  inputs: Scalars['JSON']['output'];
  /** Sequence of the last event; subscribe to capsuleRun with afterSequence to resume. */
  lastSequence: Scalars['Int']['output'];
  output?: Maybe<Scalars['JSON']['output']>;
  startedBy: Scalars['String']['output'];
  status: CapsuleRunStatus;
  /** Oldest first. */
  steps: Array<CapsuleRunStep>;
  updatedAt: Scalars['DateTime']['output'];
};


/** An execution of one capsule version: a durable workflow. */
export type CapsuleRunArtifactsArgs = {
  expiresInSeconds?: InputMaybe<Scalars['Int']['input']>;
};

export type CapsuleRunConnection = {
  __typename?: 'CapsuleRunConnection';
  edges: Array<CapsuleRunEdge>;
  pageInfo: PageInfo;
  totalCount: Scalars['Int']['output'];
};

export type CapsuleRunEdge = {
  __typename?: 'CapsuleRunEdge';
  cursor: Scalars['String']['output'];
  node: CapsuleRun;
};

/** One event of a run. sequence is 1, 2, 3… per run, without gaps. */
export type CapsuleRunEvent = {
  __typename?: 'CapsuleRunEvent';
  occurredAt: Scalars['DateTime']['output'];
  /** attempt, error, output, prompt… depending on type. */
  payload: Scalars['JSON']['output'];
  runId: Scalars['ID']['output'];
  sequence: Scalars['Int']['output'];
  /** The step it is about (null for RUN_* events). */
  stepKey?: Maybe<Scalars['String']['output']>;
  type: CapsuleRunEventType;
};

export type CapsuleRunEventType =
  | 'APPROVAL_DECIDED'
  | 'AWAITING_APPROVAL'
  | 'RUN_CANCELLED'
  | 'RUN_COMPLETED'
  | 'RUN_FAILED'
  | 'STEP_COMPLETED'
  | 'STEP_FAILED'
  | 'STEP_PROGRESS'
  | 'STEP_STARTED';

export type CapsuleRunStatus =
  /** A human-approval step waits for approveCapsuleStep / rejectCapsuleStep. */
  | 'AWAITING_APPROVAL'
  | 'CANCELLED'
  | 'COMPLETED'
  | 'FAILED'
  | 'RUNNING';

/** One step of a run. Steps inside a sub-capsule step have keys `outer/inner`. */
export type CapsuleRunStep = {
  __typename?: 'CapsuleRunStep';
  /** Attempts made so far (retries included). */
  attempts: Scalars['Int']['output'];
  detail?: Maybe<Scalars['JSON']['output']>;
  error?: Maybe<Scalars['String']['output']>;
  key: Scalars['String']['output'];
  /** modelCall, toolCall, memoryRecall, capsule, approval, branch, parallel, artifact */
  kind: Scalars['String']['output'];
  output?: Maybe<Scalars['JSON']['output']>;
  startedAt: Scalars['DateTime']['output'];
  status: CapsuleStepStatus;
  updatedAt: Scalars['DateTime']['output'];
};

export type CapsuleStepStatus =
  | 'APPROVED'
  | 'AWAITING_APPROVAL'
  | 'COMPLETED'
  | 'FAILED'
  | 'REJECTED'
  | 'RUNNING';

export type DecideCapsuleStepInput = {
  comment?: InputMaybe<Scalars['String']['input']>;
  runId: Scalars['ID']['input'];
  /** The approval step's key (its id; `outer/inner` inside a sub-capsule). */
  stepKey: Scalars['String']['input'];
};

export type Mutation = {
  __typename?: 'Mutation';
  /** Approves the waiting approval step. CONFLICT (STEP_NOT_AWAITING) when that step is not waiting. */
  approveCapsuleStep: CapsuleRun;
  /** Cancels a running run: the step in flight is aborted. CONFLICT (RUN_FINISHED) when it already ended. */
  cancelCapsuleRun: CapsuleRun;
  /**
   * Publishes the first version of a capsule from a YAML or JSON definition. BAD_USER_INPUT
   * (reason INVALID_DEFINITION, extensions.problems with path/line/column) when it is invalid;
   * CONFLICT (CAPSULE_EXISTS) when the name is taken: publish new versions with updateCapsule.
   */
  createCapsule: Capsule;
  /** Rejects the waiting approval step (the run fails with the reason unless the step says onReject: continue). */
  rejectCapsuleStep: CapsuleRun;
  /** Starts a durable run. NOT_FOUND (UNKNOWN_CAPSULE), BAD_USER_INPUT (INVALID_INPUTS), FORBIDDEN for a capability the capsule requires. */
  startCapsuleRun: CapsuleRun;
  /** Publishes a new version of an existing capsule; the version must be higher than every published one (CONFLICT VERSION_NOT_HIGHER). */
  updateCapsule: Capsule;
};


export type MutationApproveCapsuleStepArgs = {
  input: DecideCapsuleStepInput;
};


export type MutationCancelCapsuleRunArgs = {
  id: Scalars['ID']['input'];
};


export type MutationCreateCapsuleArgs = {
  source: Scalars['String']['input'];
};


export type MutationRejectCapsuleStepArgs = {
  input: DecideCapsuleStepInput;
};


export type MutationStartCapsuleRunArgs = {
  input: StartCapsuleRunInput;
};


export type MutationUpdateCapsuleArgs = {
  source: Scalars['String']['input'];
};

/** Relay page information, shared by every subgraph's connections. */
export type PageInfo = {
  __typename?: 'PageInfo';
  endCursor?: Maybe<Scalars['String']['output']>;
  hasNextPage: Scalars['Boolean']['output'];
};

export type Query = {
  __typename?: 'Query';
  /** One version, or the highest version when version is omitted. NOT_FOUND when there is none. */
  capsule: Capsule;
  /** The published JSON Schema of capsule definitions (also subgraphs/capsules/capsule.schema.json). */
  capsuleDefinitionSchema: Scalars['JSON']['output'];
  /** Another tenant's run is FORBIDDEN; an unknown id NOT_FOUND. */
  capsuleRun: CapsuleRun;
  /** Runs of the caller's tenant, newest first. */
  capsuleRuns: CapsuleRunConnection;
  /** Capsules of the caller's tenant, by name then newest version first; name filters to one capsule's versions. */
  capsules: CapsuleConnection;
};


export type QueryCapsuleArgs = {
  name: Scalars['String']['input'];
  version?: InputMaybe<Scalars['String']['input']>;
};


export type QueryCapsuleRunArgs = {
  id: Scalars['ID']['input'];
};


export type QueryCapsuleRunsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  status?: InputMaybe<CapsuleRunStatus>;
};


export type QueryCapsulesArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  name?: InputMaybe<Scalars['String']['input']>;
};

export type StartCapsuleRunInput = {
  /** Checked against the capsule's inputs schema (BAD_USER_INPUT with the problems). */
  inputs?: InputMaybe<Scalars['JSON']['input']>;
  name: Scalars['String']['input'];
  /** @default the highest version */
  version?: InputMaybe<Scalars['String']['input']>;
};

export type Subscription = {
  __typename?: 'Subscription';
  /**
   * Events of one run. With afterSequence, first replays every event after it (stored with the
   * run, so resuming works at any time), in order and without duplicates, then continues live;
   * completes after the run's RUN_COMPLETED / RUN_FAILED / RUN_CANCELLED event.
   */
  capsuleRun: CapsuleRunEvent;
};


export type SubscriptionCapsuleRunArgs = {
  afterSequence?: InputMaybe<Scalars['Int']['input']>;
  runId: Scalars['ID']['input'];
};



export type ResolverTypeWrapper<T> = Promise<T> | T;

export type ReferenceResolver<TResult, TReference, TContext> = (
      reference: TReference,
      context: TContext,
      info: GraphQLResolveInfo
    ) => Promise<TResult> | TResult;

      type ScalarCheck<T, S> = S extends true ? T : NullableCheck<T, S>;
      type NullableCheck<T, S> = Maybe<T> extends T ? Maybe<ListCheck<NonNullable<T>, S>> : ListCheck<T, S>;
      type ListCheck<T, S> = T extends (infer U)[] ? NullableCheck<U, S>[] : GraphQLRecursivePick<T, S>;
      export type GraphQLRecursivePick<T, S> = { [K in keyof T & keyof S]: ScalarCheck<T[K], S[K]> };
    

export type ResolverWithResolve<TResult, TParent, TContext, TArgs> = {
  resolve: ResolverFn<TResult, TParent, TContext, TArgs>;
};
export type Resolver<TResult, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> = ResolverFn<TResult, TParent, TContext, TArgs> | ResolverWithResolve<TResult, TParent, TContext, TArgs>;

export type ResolverFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => Promise<TResult> | TResult;

export type SubscriptionSubscribeFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => AsyncIterable<TResult> | Promise<AsyncIterable<TResult>>;

export type SubscriptionResolveFn<TResult, TParent, TContext, TArgs> = (
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => TResult | Promise<TResult>;

export interface SubscriptionSubscriberObject<TResult, TKey extends string, TParent, TContext, TArgs> {
  subscribe: SubscriptionSubscribeFn<{ [key in TKey]: TResult }, TParent, TContext, TArgs>;
  resolve?: SubscriptionResolveFn<TResult, { [key in TKey]: TResult }, TContext, TArgs>;
}

export interface SubscriptionResolverObject<TResult, TParent, TContext, TArgs> {
  subscribe: SubscriptionSubscribeFn<any, TParent, TContext, TArgs>;
  resolve: SubscriptionResolveFn<TResult, any, TContext, TArgs>;
}

export type SubscriptionObject<TResult, TKey extends string, TParent, TContext, TArgs> =
  | SubscriptionSubscriberObject<TResult, TKey, TParent, TContext, TArgs>
  | SubscriptionResolverObject<TResult, TParent, TContext, TArgs>;

export type SubscriptionResolver<TResult, TKey extends string, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> =
  | ((...args: any[]) => SubscriptionObject<TResult, TKey, TParent, TContext, TArgs>)
  | SubscriptionObject<TResult, TKey, TParent, TContext, TArgs>;

export type TypeResolveFn<TTypes, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>> = (
  parent: TParent,
  context: TContext,
  info: GraphQLResolveInfo
) => Maybe<TTypes> | Promise<Maybe<TTypes>>;

export type IsTypeOfResolverFn<T = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>> = (obj: T, context: TContext, info: GraphQLResolveInfo) => boolean | Promise<boolean>;

export type NextResolverFn<T> = () => Promise<T>;

export type DirectiveResolverFn<TResult = Record<PropertyKey, never>, TParent = Record<PropertyKey, never>, TContext = Record<PropertyKey, never>, TArgs = Record<PropertyKey, never>> = (
  next: NextResolverFn<TResult>,
  parent: TParent,
  args: TArgs,
  context: TContext,
  info: GraphQLResolveInfo
) => TResult | Promise<TResult>;

/** Mapping of federation types */
export type FederationTypes = {
  Capsule: Capsule;
  CapsuleRun: CapsuleRun;
};

/** Mapping of federation reference types */
export type FederationReferenceTypes = {
  Capsule:
    ( { __typename: 'Capsule' }
    & GraphQLRecursivePick<FederationTypes['Capsule'], {"id":true}> );
  CapsuleRun:
    ( { __typename: 'CapsuleRun' }
    & GraphQLRecursivePick<FederationTypes['CapsuleRun'], {"id":true}> );
};



/** Mapping between all available schema types and the resolvers types */
export type ResolversTypes = {
  Capsule: ResolverTypeWrapper<CapsuleModel>;
  ID: ResolverTypeWrapper<Scalars['ID']['output']>;
  CapsuleArtifact: ResolverTypeWrapper<CapsuleArtifact>;
  Int: ResolverTypeWrapper<Scalars['Int']['output']>;
  CapsuleConnection: ResolverTypeWrapper<Omit<CapsuleConnection, 'edges'> & { edges: Array<ResolversTypes['CapsuleEdge']> }>;
  CapsuleEdge: ResolverTypeWrapper<Omit<CapsuleEdge, 'node'> & { node: ResolversTypes['Capsule'] }>;
  CapsuleRun: ResolverTypeWrapper<CapsuleRunModel>;
  CapsuleRunConnection: ResolverTypeWrapper<Omit<CapsuleRunConnection, 'edges'> & { edges: Array<ResolversTypes['CapsuleRunEdge']> }>;
  CapsuleRunEdge: ResolverTypeWrapper<Omit<CapsuleRunEdge, 'node'> & { node: ResolversTypes['CapsuleRun'] }>;
  CapsuleRunEvent: ResolverTypeWrapper<CapsuleRunEventModel>;
  CapsuleRunEventType: CapsuleRunEventType;
  CapsuleRunStatus: CapsuleRunStatus;
  CapsuleRunStep: ResolverTypeWrapper<CapsuleRunStep>;
  CapsuleStepStatus: CapsuleStepStatus;
  DateTime: ResolverTypeWrapper<Scalars['DateTime']['output']>;
  DecideCapsuleStepInput: DecideCapsuleStepInput;
  JSON: ResolverTypeWrapper<Scalars['JSON']['output']>;
  Mutation: ResolverTypeWrapper<Record<PropertyKey, never>>;
  PageInfo: ResolverTypeWrapper<PageInfo>;
  Boolean: ResolverTypeWrapper<Scalars['Boolean']['output']>;
  Query: ResolverTypeWrapper<Record<PropertyKey, never>>;
  StartCapsuleRunInput: StartCapsuleRunInput;
  Subscription: ResolverTypeWrapper<Record<PropertyKey, never>>;
  String: ResolverTypeWrapper<Scalars['String']['output']>;
};

/** Mapping between all available schema types and the resolvers parents */
export type ResolversParentTypes = {
  Capsule: CapsuleModel;
  ID: Scalars['ID']['output'];
  CapsuleArtifact: CapsuleArtifact;
  Int: Scalars['Int']['output'];
  CapsuleConnection: Omit<CapsuleConnection, 'edges'> & { edges: Array<ResolversParentTypes['CapsuleEdge']> };
  CapsuleEdge: Omit<CapsuleEdge, 'node'> & { node: ResolversParentTypes['Capsule'] };
  CapsuleRun: CapsuleRunModel;
  CapsuleRunConnection: Omit<CapsuleRunConnection, 'edges'> & { edges: Array<ResolversParentTypes['CapsuleRunEdge']> };
  CapsuleRunEdge: Omit<CapsuleRunEdge, 'node'> & { node: ResolversParentTypes['CapsuleRun'] };
  CapsuleRunEvent: CapsuleRunEventModel;
  CapsuleRunStep: CapsuleRunStep;
  DateTime: Scalars['DateTime']['output'];
  DecideCapsuleStepInput: DecideCapsuleStepInput;
  JSON: Scalars['JSON']['output'];
  Mutation: Record<PropertyKey, never>;
  PageInfo: PageInfo;
  Boolean: Scalars['Boolean']['output'];
  Query: Record<PropertyKey, never>;
  StartCapsuleRunInput: StartCapsuleRunInput;
  Subscription: Record<PropertyKey, never>;
  String: Scalars['String']['output'];
};

export type PolicyDirectiveArgs = {
  name: Scalars['String']['input'];
};

export type PolicyDirectiveResolver<Result, Parent, ContextType = CapsulesContext, Args = PolicyDirectiveArgs> = DirectiveResolverFn<Result, Parent, ContextType, Args>;

export type RequiresCapabilityDirectiveArgs = {
  capabilities: Array<Scalars['String']['input']>;
};

export type RequiresCapabilityDirectiveResolver<Result, Parent, ContextType = CapsulesContext, Args = RequiresCapabilityDirectiveArgs> = DirectiveResolverFn<Result, Parent, ContextType, Args>;

export type CapsuleResolvers<ContextType = CapsulesContext, ParentType extends ResolversParentTypes['Capsule'] = ResolversParentTypes['Capsule'], FederationReferenceType extends FederationReferenceTypes['Capsule'] = FederationReferenceTypes['Capsule']> = {
  __resolveReference?: ReferenceResolver<Maybe<ResolversTypes['Capsule']> | FederationReferenceType, FederationReferenceType, ContextType>;
  capabilities?: Resolver<Array<ResolversTypes['String']>, ParentType, ContextType>;
  createdAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  createdBy?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  definition?: Resolver<ResolversTypes['JSON'], ParentType, ContextType>;
  description?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  inputsSchema?: Resolver<Maybe<ResolversTypes['JSON']>, ParentType, ContextType>;
  name?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  source?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  version?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
};

export type CapsuleArtifactResolvers<ContextType = CapsulesContext, ParentType extends ResolversParentTypes['CapsuleArtifact'] = ResolversParentTypes['CapsuleArtifact']> = {
  contentType?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  createdAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  downloadUrl?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  name?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  size?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  stepKey?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  urlExpiresAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
};

export type CapsuleConnectionResolvers<ContextType = CapsulesContext, ParentType extends ResolversParentTypes['CapsuleConnection'] = ResolversParentTypes['CapsuleConnection']> = {
  edges?: Resolver<Array<ResolversTypes['CapsuleEdge']>, ParentType, ContextType>;
  pageInfo?: Resolver<ResolversTypes['PageInfo'], ParentType, ContextType>;
  totalCount?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type CapsuleEdgeResolvers<ContextType = CapsulesContext, ParentType extends ResolversParentTypes['CapsuleEdge'] = ResolversParentTypes['CapsuleEdge']> = {
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  node?: Resolver<ResolversTypes['Capsule'], ParentType, ContextType>;
};

export type CapsuleRunResolvers<ContextType = CapsulesContext, ParentType extends ResolversParentTypes['CapsuleRun'] = ResolversParentTypes['CapsuleRun'], FederationReferenceType extends FederationReferenceTypes['CapsuleRun'] = FederationReferenceTypes['CapsuleRun']> = {
  __resolveReference?: ReferenceResolver<Maybe<ResolversTypes['CapsuleRun']> | FederationReferenceType, FederationReferenceType, ContextType>;
  artifacts?: Resolver<Array<ResolversTypes['CapsuleArtifact']>, ParentType, ContextType, RequireFields<CapsuleRunArtifactsArgs, 'expiresInSeconds'>>;
  capsule?: Resolver<ResolversTypes['Capsule'], ParentType, ContextType>;
  createdAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  engine?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  error?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  finishedAt?: Resolver<Maybe<ResolversTypes['DateTime']>, ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  inputs?: Resolver<ResolversTypes['JSON'], ParentType, ContextType>;
  lastSequence?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  output?: Resolver<Maybe<ResolversTypes['JSON']>, ParentType, ContextType>;
  startedBy?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  status?: Resolver<ResolversTypes['CapsuleRunStatus'], ParentType, ContextType>;
  steps?: Resolver<Array<ResolversTypes['CapsuleRunStep']>, ParentType, ContextType>;
  updatedAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
};

export type CapsuleRunConnectionResolvers<ContextType = CapsulesContext, ParentType extends ResolversParentTypes['CapsuleRunConnection'] = ResolversParentTypes['CapsuleRunConnection']> = {
  edges?: Resolver<Array<ResolversTypes['CapsuleRunEdge']>, ParentType, ContextType>;
  pageInfo?: Resolver<ResolversTypes['PageInfo'], ParentType, ContextType>;
  totalCount?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type CapsuleRunEdgeResolvers<ContextType = CapsulesContext, ParentType extends ResolversParentTypes['CapsuleRunEdge'] = ResolversParentTypes['CapsuleRunEdge']> = {
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  node?: Resolver<ResolversTypes['CapsuleRun'], ParentType, ContextType>;
};

export type CapsuleRunEventResolvers<ContextType = CapsulesContext, ParentType extends ResolversParentTypes['CapsuleRunEvent'] = ResolversParentTypes['CapsuleRunEvent']> = {
  occurredAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  payload?: Resolver<ResolversTypes['JSON'], ParentType, ContextType>;
  runId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  sequence?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  stepKey?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  type?: Resolver<ResolversTypes['CapsuleRunEventType'], ParentType, ContextType>;
};

export type CapsuleRunStepResolvers<ContextType = CapsulesContext, ParentType extends ResolversParentTypes['CapsuleRunStep'] = ResolversParentTypes['CapsuleRunStep']> = {
  attempts?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  detail?: Resolver<Maybe<ResolversTypes['JSON']>, ParentType, ContextType>;
  error?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  key?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  kind?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  output?: Resolver<Maybe<ResolversTypes['JSON']>, ParentType, ContextType>;
  startedAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  status?: Resolver<ResolversTypes['CapsuleStepStatus'], ParentType, ContextType>;
  updatedAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
};

export interface DateTimeScalarConfig extends GraphQLScalarTypeConfig<ResolversTypes['DateTime'], any> {
  name: 'DateTime';
}

export interface JsonScalarConfig extends GraphQLScalarTypeConfig<ResolversTypes['JSON'], any> {
  name: 'JSON';
}

export type MutationResolvers<ContextType = CapsulesContext, ParentType extends ResolversParentTypes['Mutation'] = ResolversParentTypes['Mutation']> = {
  approveCapsuleStep?: Resolver<ResolversTypes['CapsuleRun'], ParentType, ContextType, RequireFields<MutationApproveCapsuleStepArgs, 'input'>>;
  cancelCapsuleRun?: Resolver<ResolversTypes['CapsuleRun'], ParentType, ContextType, RequireFields<MutationCancelCapsuleRunArgs, 'id'>>;
  createCapsule?: Resolver<ResolversTypes['Capsule'], ParentType, ContextType, RequireFields<MutationCreateCapsuleArgs, 'source'>>;
  rejectCapsuleStep?: Resolver<ResolversTypes['CapsuleRun'], ParentType, ContextType, RequireFields<MutationRejectCapsuleStepArgs, 'input'>>;
  startCapsuleRun?: Resolver<ResolversTypes['CapsuleRun'], ParentType, ContextType, RequireFields<MutationStartCapsuleRunArgs, 'input'>>;
  updateCapsule?: Resolver<ResolversTypes['Capsule'], ParentType, ContextType, RequireFields<MutationUpdateCapsuleArgs, 'source'>>;
};

export type PageInfoResolvers<ContextType = CapsulesContext, ParentType extends ResolversParentTypes['PageInfo'] = ResolversParentTypes['PageInfo']> = {
  endCursor?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  hasNextPage?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
};

export type QueryResolvers<ContextType = CapsulesContext, ParentType extends ResolversParentTypes['Query'] = ResolversParentTypes['Query']> = {
  capsule?: Resolver<ResolversTypes['Capsule'], ParentType, ContextType, RequireFields<QueryCapsuleArgs, 'name'>>;
  capsuleDefinitionSchema?: Resolver<ResolversTypes['JSON'], ParentType, ContextType>;
  capsuleRun?: Resolver<ResolversTypes['CapsuleRun'], ParentType, ContextType, RequireFields<QueryCapsuleRunArgs, 'id'>>;
  capsuleRuns?: Resolver<ResolversTypes['CapsuleRunConnection'], ParentType, ContextType, RequireFields<QueryCapsuleRunsArgs, 'first'>>;
  capsules?: Resolver<ResolversTypes['CapsuleConnection'], ParentType, ContextType, RequireFields<QueryCapsulesArgs, 'first'>>;
};

export type SubscriptionResolvers<ContextType = CapsulesContext, ParentType extends ResolversParentTypes['Subscription'] = ResolversParentTypes['Subscription']> = {
  capsuleRun?: SubscriptionResolver<ResolversTypes['CapsuleRunEvent'], "capsuleRun", ParentType, ContextType, RequireFields<SubscriptionCapsuleRunArgs, 'afterSequence' | 'runId'>>;
};

export type Resolvers<ContextType = CapsulesContext> = {
  Capsule?: CapsuleResolvers<ContextType>;
  CapsuleArtifact?: CapsuleArtifactResolvers<ContextType>;
  CapsuleConnection?: CapsuleConnectionResolvers<ContextType>;
  CapsuleEdge?: CapsuleEdgeResolvers<ContextType>;
  CapsuleRun?: CapsuleRunResolvers<ContextType>;
  CapsuleRunConnection?: CapsuleRunConnectionResolvers<ContextType>;
  CapsuleRunEdge?: CapsuleRunEdgeResolvers<ContextType>;
  CapsuleRunEvent?: CapsuleRunEventResolvers<ContextType>;
  CapsuleRunStep?: CapsuleRunStepResolvers<ContextType>;
  DateTime?: GraphQLScalarType;
  JSON?: GraphQLScalarType;
  Mutation?: MutationResolvers<ContextType>;
  PageInfo?: PageInfoResolvers<ContextType>;
  Query?: QueryResolvers<ContextType>;
  Subscription?: SubscriptionResolvers<ContextType>;
};

export type DirectiveResolvers<ContextType = CapsulesContext> = {
  policy?: PolicyDirectiveResolver<any, any, ContextType>;
  requiresCapability?: RequiresCapabilityDirectiveResolver<any, any, ContextType>;
};
