import type { GraphQLResolveInfo, GraphQLScalarType, GraphQLScalarTypeConfig } from 'graphql';
import type { BudgetModel } from '../models';
import type { BillingContext } from '../createBillingSubgraph';
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
  /** An amount in integer micro-dollars (1 USD = 1000000), exact up to 2^53. */
  Micros: { input: number; output: number; }
  _FieldSet: { input: unknown; output: unknown; }
};

/** A spending limit. posted + held never exceeds the limit: a call whose worst case does not fit is refused (BUDGET_EXCEEDED). */
export type Budget = {
  __typename?: 'Budget';
  /** Soft alerts, in percent of the limit, ascending. */
  alertThresholds: Array<Scalars['Int']['output']>;
  /** The thresholds that posted + held has reached in the current period. */
  alertsReached: Array<Scalars['Int']['output']>;
  /** When it was created. */
  createdAt: Scalars['DateTime']['output'];
  /** Worst cases of the calls in flight (open holds). */
  heldMicros: Scalars['Micros']['output'];
  /** The budget's id. */
  id: Scalars['ID']['output'];
  /** The hard limit per period. */
  limitMicros: Scalars['Micros']['output'];
  /** When its spend resets. */
  period: BudgetPeriod;
  /** Start of the current period. */
  periodStart: Scalars['DateTime']['output'];
  /** Spend settled in the current period. */
  postedMicros: Scalars['Micros']['output'];
  /** limit − posted − held, never below 0: the largest call that fits now. */
  remainingMicros: Scalars['Micros']['output'];
  /** When the current period ends and spend starts from zero; null for TOTAL. */
  resetsAt?: Maybe<Scalars['DateTime']['output']>;
  /** What it applies to. */
  scope: BudgetScope;
  /** The user, API key, persona, capsule or project id; null for TENANT. */
  scopeId?: Maybe<Scalars['String']['output']>;
  /** When it was last edited. */
  updatedAt: Scalars['DateTime']['output'];
  /** Increases with every edit; pass it as expectedVersion to update or delete. */
  version: Scalars['Int']['output'];
};

/** A page of budgets, newest first. */
export type BudgetConnection = {
  __typename?: 'BudgetConnection';
  /** The budgets of this page. */
  edges: Array<BudgetEdge>;
  /** Whether there is more. */
  pageInfo: PageInfo;
  /** All budgets matching the filter. */
  totalCount: Scalars['Int']['output'];
};

/** One budget of a page. */
export type BudgetEdge = {
  __typename?: 'BudgetEdge';
  /** Opaque position of this edge. */
  cursor: Scalars['String']['output'];
  /** The budget. */
  node: Budget;
};

/** How long a budget's spend accumulates before it starts from zero again (UTC). */
export type BudgetPeriod =
  /** Resets at 00:00 UTC every day. */
  | 'DAY'
  /** Resets at 00:00 UTC on the first day of every month. */
  | 'MONTH'
  /** Never resets. */
  | 'TOTAL';

/** What a budget applies to (docs/billing.md). Every budget that applies to a call must fit its hold. */
export type BudgetScope =
  /** Calls made with one API key (scopeId: the key's id). */
  | 'API_KEY'
  /** Calls made by one capsule's runs (scopeId: the capsule name). */
  | 'CAPSULE'
  /** Calls made by one persona (scopeId: the persona id). */
  | 'PERSONA'
  /** Calls made for one multi-agent project (scopeId: the project id). */
  | 'PROJECT'
  /** Every billable call of the tenant. */
  | 'TENANT'
  /** Calls made by one user (scopeId: the user's subject). */
  | 'USER';

/** A new budget. A tenant has at most one budget per (scope, scopeId, period): CONFLICT otherwise. */
export type CreateBudgetInput = {
  /** Soft alerts in percent of the limit, integers 1..100, at most 10. */
  alertThresholds?: InputMaybe<Array<Scalars['Int']['input']>>;
  /** The hard limit per period, 0..10^15 micro-dollars. */
  limitMicros: Scalars['Micros']['input'];
  /** When its spend resets. */
  period: BudgetPeriod;
  /** What it applies to. */
  scope: BudgetScope;
  /** Required (1..200 characters) for every scope but TENANT, which takes none. */
  scopeId?: InputMaybe<Scalars['String']['input']>;
};

/** What deleteBudget removed. */
export type DeleteBudgetPayload = {
  __typename?: 'DeleteBudgetPayload';
  /** The deleted budget's id. */
  id: Scalars['ID']['output'];
};

export type Mutation = {
  __typename?: 'Mutation';
  /** Creates a budget. Needs billing:budgets:write. */
  createBudget: Budget;
  /** Deletes a budget (CONFLICT when expectedVersion is given and stale). Open holds stop counting against it. Needs billing:budgets:write. */
  deleteBudget: DeleteBudgetPayload;
  /** Edits a budget's limit or alerts. NOT_FOUND like budget; CONFLICT on a stale expectedVersion. Needs billing:budgets:write. */
  updateBudget: Budget;
};


export type MutationCreateBudgetArgs = {
  input: CreateBudgetInput;
};


export type MutationDeleteBudgetArgs = {
  expectedVersion?: InputMaybe<Scalars['Int']['input']>;
  id: Scalars['ID']['input'];
};


export type MutationUpdateBudgetArgs = {
  id: Scalars['ID']['input'];
  input: UpdateBudgetInput;
};

/** Relay page information, shared by every subgraph's connections. */
export type PageInfo = {
  __typename?: 'PageInfo';
  endCursor?: Maybe<Scalars['String']['output']>;
  hasNextPage: Scalars['Boolean']['output'];
};

export type Query = {
  __typename?: 'Query';
  /** One budget. NOT_FOUND when it does not exist or is another tenant's. Needs billing:budgets:read. */
  budget: Budget;
  /** The tenant's budgets, newest first. first: 0..100, default 20. Needs billing:budgets:read. */
  budgets: BudgetConnection;
  /** The budgets that apply to the caller's own calls (the tenant's and the caller's own), with what remains. Any member. */
  myBudgets: Array<Budget>;
};


export type QueryBudgetArgs = {
  id: Scalars['ID']['input'];
};


export type QueryBudgetsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  scope?: InputMaybe<BudgetScope>;
};

/** An edit of a budget; omitted fields keep their value. */
export type UpdateBudgetInput = {
  /** The new soft alerts (replace the old ones). */
  alertThresholds?: InputMaybe<Array<Scalars['Int']['input']>>;
  /** The version the edit was made on: CONFLICT when the budget has changed since. */
  expectedVersion: Scalars['Int']['input'];
  /** The new hard limit, 0..10^15 micro-dollars. Lowering it below posted + held refuses every new hold until the period resets. */
  limitMicros?: InputMaybe<Scalars['Micros']['input']>;
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
  Budget: Budget;
};

/** Mapping of federation reference types */
export type FederationReferenceTypes = {
  Budget:
    ( { __typename: 'Budget' }
    & GraphQLRecursivePick<FederationTypes['Budget'], {"id":true}> );
};



/** Mapping between all available schema types and the resolvers types */
export type ResolversTypes = {
  Budget: ResolverTypeWrapper<BudgetModel>;
  Int: ResolverTypeWrapper<Scalars['Int']['output']>;
  ID: ResolverTypeWrapper<Scalars['ID']['output']>;
  BudgetConnection: ResolverTypeWrapper<Omit<BudgetConnection, 'edges'> & { edges: Array<ResolversTypes['BudgetEdge']> }>;
  BudgetEdge: ResolverTypeWrapper<Omit<BudgetEdge, 'node'> & { node: ResolversTypes['Budget'] }>;
  BudgetPeriod: BudgetPeriod;
  BudgetScope: BudgetScope;
  CreateBudgetInput: CreateBudgetInput;
  DateTime: ResolverTypeWrapper<Scalars['DateTime']['output']>;
  DeleteBudgetPayload: ResolverTypeWrapper<DeleteBudgetPayload>;
  Micros: ResolverTypeWrapper<Scalars['Micros']['output']>;
  Mutation: ResolverTypeWrapper<Record<PropertyKey, never>>;
  PageInfo: ResolverTypeWrapper<PageInfo>;
  Boolean: ResolverTypeWrapper<Scalars['Boolean']['output']>;
  Query: ResolverTypeWrapper<Record<PropertyKey, never>>;
  UpdateBudgetInput: UpdateBudgetInput;
  String: ResolverTypeWrapper<Scalars['String']['output']>;
};

/** Mapping between all available schema types and the resolvers parents */
export type ResolversParentTypes = {
  Budget: BudgetModel;
  Int: Scalars['Int']['output'];
  ID: Scalars['ID']['output'];
  BudgetConnection: Omit<BudgetConnection, 'edges'> & { edges: Array<ResolversParentTypes['BudgetEdge']> };
  BudgetEdge: Omit<BudgetEdge, 'node'> & { node: ResolversParentTypes['Budget'] };
  CreateBudgetInput: CreateBudgetInput;
  DateTime: Scalars['DateTime']['output'];
  DeleteBudgetPayload: DeleteBudgetPayload;
  Micros: Scalars['Micros']['output'];
  Mutation: Record<PropertyKey, never>;
  PageInfo: PageInfo;
  Boolean: Scalars['Boolean']['output'];
  Query: Record<PropertyKey, never>;
  UpdateBudgetInput: UpdateBudgetInput;
  String: Scalars['String']['output'];
};

export type PolicyDirectiveArgs = {
  name: Scalars['String']['input'];
};

export type PolicyDirectiveResolver<Result, Parent, ContextType = BillingContext, Args = PolicyDirectiveArgs> = DirectiveResolverFn<Result, Parent, ContextType, Args>;

export type RequiresCapabilityDirectiveArgs = {
  capabilities: Array<Scalars['String']['input']>;
};

export type RequiresCapabilityDirectiveResolver<Result, Parent, ContextType = BillingContext, Args = RequiresCapabilityDirectiveArgs> = DirectiveResolverFn<Result, Parent, ContextType, Args>;

export type BudgetResolvers<ContextType = BillingContext, ParentType extends ResolversParentTypes['Budget'] = ResolversParentTypes['Budget'], FederationReferenceType extends FederationReferenceTypes['Budget'] = FederationReferenceTypes['Budget']> = {
  __resolveReference?: ReferenceResolver<Maybe<ResolversTypes['Budget']> | FederationReferenceType, FederationReferenceType, ContextType>;
  alertThresholds?: Resolver<Array<ResolversTypes['Int']>, ParentType, ContextType>;
  alertsReached?: Resolver<Array<ResolversTypes['Int']>, ParentType, ContextType>;
  createdAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  heldMicros?: Resolver<ResolversTypes['Micros'], ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  limitMicros?: Resolver<ResolversTypes['Micros'], ParentType, ContextType>;
  period?: Resolver<ResolversTypes['BudgetPeriod'], ParentType, ContextType>;
  periodStart?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  postedMicros?: Resolver<ResolversTypes['Micros'], ParentType, ContextType>;
  remainingMicros?: Resolver<ResolversTypes['Micros'], ParentType, ContextType>;
  resetsAt?: Resolver<Maybe<ResolversTypes['DateTime']>, ParentType, ContextType>;
  scope?: Resolver<ResolversTypes['BudgetScope'], ParentType, ContextType>;
  scopeId?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  updatedAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  version?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type BudgetConnectionResolvers<ContextType = BillingContext, ParentType extends ResolversParentTypes['BudgetConnection'] = ResolversParentTypes['BudgetConnection']> = {
  edges?: Resolver<Array<ResolversTypes['BudgetEdge']>, ParentType, ContextType>;
  pageInfo?: Resolver<ResolversTypes['PageInfo'], ParentType, ContextType>;
  totalCount?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type BudgetEdgeResolvers<ContextType = BillingContext, ParentType extends ResolversParentTypes['BudgetEdge'] = ResolversParentTypes['BudgetEdge']> = {
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  node?: Resolver<ResolversTypes['Budget'], ParentType, ContextType>;
};

export interface DateTimeScalarConfig extends GraphQLScalarTypeConfig<ResolversTypes['DateTime'], any> {
  name: 'DateTime';
}

export type DeleteBudgetPayloadResolvers<ContextType = BillingContext, ParentType extends ResolversParentTypes['DeleteBudgetPayload'] = ResolversParentTypes['DeleteBudgetPayload']> = {
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
};

export interface MicrosScalarConfig extends GraphQLScalarTypeConfig<ResolversTypes['Micros'], any> {
  name: 'Micros';
}

export type MutationResolvers<ContextType = BillingContext, ParentType extends ResolversParentTypes['Mutation'] = ResolversParentTypes['Mutation']> = {
  createBudget?: Resolver<ResolversTypes['Budget'], ParentType, ContextType, RequireFields<MutationCreateBudgetArgs, 'input'>>;
  deleteBudget?: Resolver<ResolversTypes['DeleteBudgetPayload'], ParentType, ContextType, RequireFields<MutationDeleteBudgetArgs, 'id'>>;
  updateBudget?: Resolver<ResolversTypes['Budget'], ParentType, ContextType, RequireFields<MutationUpdateBudgetArgs, 'id' | 'input'>>;
};

export type PageInfoResolvers<ContextType = BillingContext, ParentType extends ResolversParentTypes['PageInfo'] = ResolversParentTypes['PageInfo']> = {
  endCursor?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  hasNextPage?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
};

export type QueryResolvers<ContextType = BillingContext, ParentType extends ResolversParentTypes['Query'] = ResolversParentTypes['Query']> = {
  budget?: Resolver<ResolversTypes['Budget'], ParentType, ContextType, RequireFields<QueryBudgetArgs, 'id'>>;
  budgets?: Resolver<ResolversTypes['BudgetConnection'], ParentType, ContextType, RequireFields<QueryBudgetsArgs, 'first'>>;
  myBudgets?: Resolver<Array<ResolversTypes['Budget']>, ParentType, ContextType>;
};

export type Resolvers<ContextType = BillingContext> = {
  Budget?: BudgetResolvers<ContextType>;
  BudgetConnection?: BudgetConnectionResolvers<ContextType>;
  BudgetEdge?: BudgetEdgeResolvers<ContextType>;
  DateTime?: GraphQLScalarType;
  DeleteBudgetPayload?: DeleteBudgetPayloadResolvers<ContextType>;
  Micros?: GraphQLScalarType;
  Mutation?: MutationResolvers<ContextType>;
  PageInfo?: PageInfoResolvers<ContextType>;
  Query?: QueryResolvers<ContextType>;
};

export type DirectiveResolvers<ContextType = BillingContext> = {
  policy?: PolicyDirectiveResolver<any, any, ContextType>;
  requiresCapability?: RequiresCapabilityDirectiveResolver<any, any, ContextType>;
};
