import type { GraphQLResolveInfo, GraphQLScalarType, GraphQLScalarTypeConfig } from 'graphql';
import type { MemoryItemModel, MemoryDocumentModel, MemoryCollectionModel } from '../models';
import type { MemoryContext } from '../createMemorySubgraph';
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

export type Citation = {
  __typename?: 'Citation';
  item: MemoryItem;
  /** The [n] marker used in the context text. */
  marker: Scalars['Int']['output'];
  score: Scalars['Float']['output'];
};

export type ForgetInput = {
  /** ... created before this time. */
  before?: InputMaybe<Scalars['DateTime']['input']>;
  /** Items to delete (memories or chunks). */
  ids?: InputMaybe<Array<Scalars['ID']['input']>>;
  /** ... whose metadata contains this object ... */
  metadata?: InputMaybe<Scalars['JSON']['input']>;
  /** Or every item of this scope (required unless ids are given) ... */
  scope?: InputMaybe<MemoryScopeInput>;
};

export type ForgetPayload = {
  __typename?: 'ForgetPayload';
  /** How many items were deleted. */
  deletedCount: Scalars['Int']['output'];
};

export type IngestDocumentInput = {
  /** Characters shared by neighbouring chunks, 0..chunkSize/2, default 150. */
  chunkOverlap?: InputMaybe<Scalars['Int']['input']>;
  /** Characters per chunk, 100..8000, default 1000. */
  chunkSize?: InputMaybe<Scalars['Int']['input']>;
  collection?: InputMaybe<Scalars['String']['input']>;
  metadata?: InputMaybe<Scalars['JSON']['input']>;
  /** @default { kind: USER } */
  scope?: InputMaybe<MemoryScopeInput>;
  source?: InputMaybe<Scalars['String']['input']>;
  /** 1..1000000 characters. */
  text: Scalars['String']['input'];
  title: Scalars['String']['input'];
};

/** A collection records the embedding model and dimension of every vector stored in it. */
export type MemoryCollection = {
  __typename?: 'MemoryCollection';
  createdAt: Scalars['DateTime']['output'];
  dimension: Scalars['Int']['output'];
  model: Scalars['String']['output'];
  name: Scalars['String']['output'];
};

export type MemoryDocument = {
  __typename?: 'MemoryDocument';
  charCount: Scalars['Int']['output'];
  chunkCount: Scalars['Int']['output'];
  chunkOverlap: Scalars['Int']['output'];
  chunkSize: Scalars['Int']['output'];
  /** In document order. first: 0..100, default 20. */
  chunks: MemoryItemConnection;
  collection: Scalars['String']['output'];
  createdAt: Scalars['DateTime']['output'];
  id: Scalars['ID']['output'];
  metadata: Scalars['JSON']['output'];
  scope: MemoryScope;
  source?: Maybe<Scalars['String']['output']>;
  title: Scalars['String']['output'];
};


export type MemoryDocumentChunksArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};

export type MemoryDocumentConnection = {
  __typename?: 'MemoryDocumentConnection';
  edges: Array<MemoryDocumentEdge>;
  pageInfo: PageInfo;
  totalCount: Scalars['Int']['output'];
};

export type MemoryDocumentEdge = {
  __typename?: 'MemoryDocumentEdge';
  cursor: Scalars['String']['output'];
  node: MemoryDocument;
};

/** One recalled item and why. */
export type MemoryHit = {
  __typename?: 'MemoryHit';
  item: MemoryItem;
  keywordRank?: Maybe<Scalars['Int']['output']>;
  /** The fused score (HYBRID), cosine similarity (VECTOR) or text rank (KEYWORD), recency applied; higher is better. */
  score: Scalars['Float']['output'];
  /** Cosine similarity of the item's vector to the query's, when the vector search found it. */
  similarity?: Maybe<Scalars['Float']['output']>;
  /** 1-based ranks in each list before fusion; null when that list did not find the item. */
  vectorRank?: Maybe<Scalars['Int']['output']>;
};

export type MemoryItem = {
  __typename?: 'MemoryItem';
  collection: Scalars['String']['output'];
  createdAt: Scalars['DateTime']['output'];
  /** For CHUNK items. */
  document?: Maybe<MemoryDocument>;
  endOffset?: Maybe<Scalars['Int']['output']>;
  id: Scalars['ID']['output'];
  kind: MemoryItemKind;
  metadata: Scalars['JSON']['output'];
  /** Position of a chunk in its document, from 0. */
  ordinal?: Maybe<Scalars['Int']['output']>;
  scope: MemoryScope;
  /** Character offsets of a chunk in its document's text: [startOffset, endOffset). */
  startOffset?: Maybe<Scalars['Int']['output']>;
  text: Scalars['String']['output'];
};

export type MemoryItemConnection = {
  __typename?: 'MemoryItemConnection';
  edges: Array<MemoryItemEdge>;
  pageInfo: PageInfo;
  totalCount: Scalars['Int']['output'];
};

export type MemoryItemEdge = {
  __typename?: 'MemoryItemEdge';
  cursor: Scalars['String']['output'];
  node: MemoryItem;
};

export type MemoryItemKind =
  /** A chunk of an ingested document. */
  | 'CHUNK'
  /** Stored with remember. */
  | 'MEMORY';

export type MemoryScope = {
  __typename?: 'MemoryScope';
  /** Session or agent id; the user's subject for USER; null for TENANT. */
  id?: Maybe<Scalars['String']['output']>;
  kind: MemoryScopeKind;
};

export type MemoryScopeInput = {
  /** The session or agent id (1..200 characters) for SESSION and AGENT; omitted for TENANT and USER (the caller). */
  id?: InputMaybe<Scalars['String']['input']>;
  kind: MemoryScopeKind;
};

/**
 * Who a memory belongs to, inside the caller's tenant (docs/memory.md):
 * TENANT: every member of the tenant; USER: only the caller; SESSION: only the caller, in one
 * session; AGENT: every member of the tenant, for one agent (persona, capsule).
 */
export type MemoryScopeKind =
  | 'AGENT'
  | 'SESSION'
  | 'TENANT'
  | 'USER';

export type Mutation = {
  __typename?: 'Mutation';
  /** Deletes a document and its chunks; false when it did not exist. Needs memory:write. */
  deleteMemoryDocument: Scalars['Boolean']['output'];
  /** Deletes memories by id or by scope and filter. Needs memory:write. */
  forget: ForgetPayload;
  /** Chunks, embeds and stores a document, all or nothing. Needs memory:write. */
  ingestDocument: MemoryDocument;
  /** Stores one memory. Needs memory:write. */
  remember: MemoryItem;
};


export type MutationDeleteMemoryDocumentArgs = {
  id: Scalars['ID']['input'];
};


export type MutationForgetArgs = {
  input: ForgetInput;
};


export type MutationIngestDocumentArgs = {
  input: IngestDocumentInput;
};


export type MutationRememberArgs = {
  input: RememberInput;
};

/** Relay page information, shared by every subgraph's connections. */
export type PageInfo = {
  __typename?: 'PageInfo';
  endCursor?: Maybe<Scalars['String']['output']>;
  hasNextPage: Scalars['Boolean']['output'];
};

export type Query = {
  __typename?: 'Query';
  /** Memories and chunks of one scope, newest first. Needs memory:read. */
  memories: MemoryItemConnection;
  /** The caller's tenant's collections. Needs memory:read. */
  memoryCollections: Array<MemoryCollection>;
  /** Needs memory:read. NOT_FOUND when it does not exist or is not visible to the caller. */
  memoryDocument: MemoryDocument;
  /** Documents of one scope, newest first. Needs memory:read. */
  memoryDocuments: MemoryDocumentConnection;
  /** The k items most relevant to the query, best first. Needs memory:read. */
  recall: Array<MemoryHit>;
  /** Passages for answering a question, with citations. Needs memory:read. */
  retrieveContext: RetrievedContext;
};


export type QueryMemoriesArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  kind?: InputMaybe<MemoryItemKind>;
  scope?: InputMaybe<MemoryScopeInput>;
};


export type QueryMemoryDocumentArgs = {
  id: Scalars['ID']['input'];
};


export type QueryMemoryDocumentsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  scope?: InputMaybe<MemoryScopeInput>;
};


export type QueryRecallArgs = {
  input: RecallInput;
};


export type QueryRetrieveContextArgs = {
  input: RetrieveContextInput;
};

export type RecallFilter = {
  documentIds?: InputMaybe<Array<Scalars['ID']['input']>>;
  kinds?: InputMaybe<Array<MemoryItemKind>>;
  /** Only items whose metadata contains this JSON object. */
  metadata?: InputMaybe<Scalars['JSON']['input']>;
};

export type RecallInput = {
  /** @default "default" */
  collection?: InputMaybe<Scalars['String']['input']>;
  filter?: InputMaybe<RecallFilter>;
  /** 1..50, default 5. */
  k?: InputMaybe<Scalars['Int']['input']>;
  /** @default HYBRID */
  mode?: InputMaybe<RetrievalMode>;
  /** 1..2000 characters. */
  query: Scalars['String']['input'];
  /**
   * Half-life in hours of an exponential recency weight; omitted or 0: no recency weighting.
   * The score is multiplied by (1 - recencyWeight) + recencyWeight * 0.5^(age/halfLife).
   */
  recencyHalfLifeHours?: InputMaybe<Scalars['Float']['input']>;
  /** 0..1, default 0.3 (used with recencyHalfLifeHours). */
  recencyWeight?: InputMaybe<Scalars['Float']['input']>;
  /** Scopes searched together; default [{ kind: USER }]. */
  scopes?: InputMaybe<Array<MemoryScopeInput>>;
};

export type RememberInput = {
  /** @default "default" */
  collection?: InputMaybe<Scalars['String']['input']>;
  /** A JSON object, at most 16 KB serialized. */
  metadata?: InputMaybe<Scalars['JSON']['input']>;
  /** @default { kind: USER } */
  scope?: InputMaybe<MemoryScopeInput>;
  /** 1..8000 characters (longer texts: ingestDocument). */
  text: Scalars['String']['input'];
};

export type RetrievalMode =
  /** Full-text and vector rankings fused by reciprocal rank fusion (the default). */
  | 'HYBRID'
  | 'KEYWORD'
  | 'VECTOR';

export type RetrieveContextInput = {
  collection?: InputMaybe<Scalars['String']['input']>;
  filter?: InputMaybe<RecallFilter>;
  /** Passages to cite, 1..20, default 5. */
  k?: InputMaybe<Scalars['Int']['input']>;
  /** Upper bound of the context text, 200..32000 characters, default 6000. */
  maxChars?: InputMaybe<Scalars['Int']['input']>;
  question: Scalars['String']['input'];
  scopes?: InputMaybe<Array<MemoryScopeInput>>;
};

export type RetrievedContext = {
  __typename?: 'RetrievedContext';
  citations: Array<Citation>;
  /** The cited passages, each introduced by its [n] marker, best first; ready for a prompt. */
  text: Scalars['String']['output'];
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
  MemoryDocument: MemoryDocument;
  MemoryItem: MemoryItem;
};

/** Mapping of federation reference types */
export type FederationReferenceTypes = {
  MemoryDocument:
    ( { __typename: 'MemoryDocument' }
    & GraphQLRecursivePick<FederationTypes['MemoryDocument'], {"id":true}> );
  MemoryItem:
    ( { __typename: 'MemoryItem' }
    & GraphQLRecursivePick<FederationTypes['MemoryItem'], {"id":true}> );
};



/** Mapping between all available schema types and the resolvers types */
export type ResolversTypes = {
  Citation: ResolverTypeWrapper<Omit<Citation, 'item'> & { item: ResolversTypes['MemoryItem'] }>;
  Int: ResolverTypeWrapper<Scalars['Int']['output']>;
  Float: ResolverTypeWrapper<Scalars['Float']['output']>;
  DateTime: ResolverTypeWrapper<Scalars['DateTime']['output']>;
  ForgetInput: ForgetInput;
  ID: ResolverTypeWrapper<Scalars['ID']['output']>;
  ForgetPayload: ResolverTypeWrapper<ForgetPayload>;
  IngestDocumentInput: IngestDocumentInput;
  JSON: ResolverTypeWrapper<Scalars['JSON']['output']>;
  MemoryCollection: ResolverTypeWrapper<MemoryCollectionModel>;
  MemoryDocument: ResolverTypeWrapper<MemoryDocumentModel>;
  MemoryDocumentConnection: ResolverTypeWrapper<Omit<MemoryDocumentConnection, 'edges'> & { edges: Array<ResolversTypes['MemoryDocumentEdge']> }>;
  MemoryDocumentEdge: ResolverTypeWrapper<Omit<MemoryDocumentEdge, 'node'> & { node: ResolversTypes['MemoryDocument'] }>;
  MemoryHit: ResolverTypeWrapper<Omit<MemoryHit, 'item'> & { item: ResolversTypes['MemoryItem'] }>;
  MemoryItem: ResolverTypeWrapper<MemoryItemModel>;
  MemoryItemConnection: ResolverTypeWrapper<Omit<MemoryItemConnection, 'edges'> & { edges: Array<ResolversTypes['MemoryItemEdge']> }>;
  MemoryItemEdge: ResolverTypeWrapper<Omit<MemoryItemEdge, 'node'> & { node: ResolversTypes['MemoryItem'] }>;
  MemoryItemKind: MemoryItemKind;
  MemoryScope: ResolverTypeWrapper<MemoryScope>;
  MemoryScopeInput: MemoryScopeInput;
  MemoryScopeKind: MemoryScopeKind;
  Mutation: ResolverTypeWrapper<Record<PropertyKey, never>>;
  Boolean: ResolverTypeWrapper<Scalars['Boolean']['output']>;
  PageInfo: ResolverTypeWrapper<PageInfo>;
  Query: ResolverTypeWrapper<Record<PropertyKey, never>>;
  RecallFilter: RecallFilter;
  RecallInput: RecallInput;
  RememberInput: RememberInput;
  RetrievalMode: RetrievalMode;
  RetrieveContextInput: RetrieveContextInput;
  RetrievedContext: ResolverTypeWrapper<Omit<RetrievedContext, 'citations'> & { citations: Array<ResolversTypes['Citation']> }>;
  String: ResolverTypeWrapper<Scalars['String']['output']>;
};

/** Mapping between all available schema types and the resolvers parents */
export type ResolversParentTypes = {
  Citation: Omit<Citation, 'item'> & { item: ResolversParentTypes['MemoryItem'] };
  Int: Scalars['Int']['output'];
  Float: Scalars['Float']['output'];
  DateTime: Scalars['DateTime']['output'];
  ForgetInput: ForgetInput;
  ID: Scalars['ID']['output'];
  ForgetPayload: ForgetPayload;
  IngestDocumentInput: IngestDocumentInput;
  JSON: Scalars['JSON']['output'];
  MemoryCollection: MemoryCollectionModel;
  MemoryDocument: MemoryDocumentModel;
  MemoryDocumentConnection: Omit<MemoryDocumentConnection, 'edges'> & { edges: Array<ResolversParentTypes['MemoryDocumentEdge']> };
  MemoryDocumentEdge: Omit<MemoryDocumentEdge, 'node'> & { node: ResolversParentTypes['MemoryDocument'] };
  MemoryHit: Omit<MemoryHit, 'item'> & { item: ResolversParentTypes['MemoryItem'] };
  MemoryItem: MemoryItemModel;
  MemoryItemConnection: Omit<MemoryItemConnection, 'edges'> & { edges: Array<ResolversParentTypes['MemoryItemEdge']> };
  MemoryItemEdge: Omit<MemoryItemEdge, 'node'> & { node: ResolversParentTypes['MemoryItem'] };
  MemoryScope: MemoryScope;
  MemoryScopeInput: MemoryScopeInput;
  Mutation: Record<PropertyKey, never>;
  Boolean: Scalars['Boolean']['output'];
  PageInfo: PageInfo;
  Query: Record<PropertyKey, never>;
  RecallFilter: RecallFilter;
  RecallInput: RecallInput;
  RememberInput: RememberInput;
  RetrieveContextInput: RetrieveContextInput;
  RetrievedContext: Omit<RetrievedContext, 'citations'> & { citations: Array<ResolversParentTypes['Citation']> };
  String: Scalars['String']['output'];
};

export type PolicyDirectiveArgs = {
  name: Scalars['String']['input'];
};

export type PolicyDirectiveResolver<Result, Parent, ContextType = MemoryContext, Args = PolicyDirectiveArgs> = DirectiveResolverFn<Result, Parent, ContextType, Args>;

export type RequiresCapabilityDirectiveArgs = {
  capabilities: Array<Scalars['String']['input']>;
};

export type RequiresCapabilityDirectiveResolver<Result, Parent, ContextType = MemoryContext, Args = RequiresCapabilityDirectiveArgs> = DirectiveResolverFn<Result, Parent, ContextType, Args>;

export type CitationResolvers<ContextType = MemoryContext, ParentType extends ResolversParentTypes['Citation'] = ResolversParentTypes['Citation']> = {
  item?: Resolver<ResolversTypes['MemoryItem'], ParentType, ContextType>;
  marker?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  score?: Resolver<ResolversTypes['Float'], ParentType, ContextType>;
};

export interface DateTimeScalarConfig extends GraphQLScalarTypeConfig<ResolversTypes['DateTime'], any> {
  name: 'DateTime';
}

export type ForgetPayloadResolvers<ContextType = MemoryContext, ParentType extends ResolversParentTypes['ForgetPayload'] = ResolversParentTypes['ForgetPayload']> = {
  deletedCount?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export interface JsonScalarConfig extends GraphQLScalarTypeConfig<ResolversTypes['JSON'], any> {
  name: 'JSON';
}

export type MemoryCollectionResolvers<ContextType = MemoryContext, ParentType extends ResolversParentTypes['MemoryCollection'] = ResolversParentTypes['MemoryCollection']> = {
  createdAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  dimension?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  model?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  name?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
};

export type MemoryDocumentResolvers<ContextType = MemoryContext, ParentType extends ResolversParentTypes['MemoryDocument'] = ResolversParentTypes['MemoryDocument'], FederationReferenceType extends FederationReferenceTypes['MemoryDocument'] = FederationReferenceTypes['MemoryDocument']> = {
  __resolveReference?: ReferenceResolver<Maybe<ResolversTypes['MemoryDocument']> | FederationReferenceType, FederationReferenceType, ContextType>;
  charCount?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  chunkCount?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  chunkOverlap?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  chunkSize?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  chunks?: Resolver<ResolversTypes['MemoryItemConnection'], ParentType, ContextType, RequireFields<MemoryDocumentChunksArgs, 'first'>>;
  collection?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  createdAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  metadata?: Resolver<ResolversTypes['JSON'], ParentType, ContextType>;
  scope?: Resolver<ResolversTypes['MemoryScope'], ParentType, ContextType>;
  source?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  title?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
};

export type MemoryDocumentConnectionResolvers<ContextType = MemoryContext, ParentType extends ResolversParentTypes['MemoryDocumentConnection'] = ResolversParentTypes['MemoryDocumentConnection']> = {
  edges?: Resolver<Array<ResolversTypes['MemoryDocumentEdge']>, ParentType, ContextType>;
  pageInfo?: Resolver<ResolversTypes['PageInfo'], ParentType, ContextType>;
  totalCount?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type MemoryDocumentEdgeResolvers<ContextType = MemoryContext, ParentType extends ResolversParentTypes['MemoryDocumentEdge'] = ResolversParentTypes['MemoryDocumentEdge']> = {
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  node?: Resolver<ResolversTypes['MemoryDocument'], ParentType, ContextType>;
};

export type MemoryHitResolvers<ContextType = MemoryContext, ParentType extends ResolversParentTypes['MemoryHit'] = ResolversParentTypes['MemoryHit']> = {
  item?: Resolver<ResolversTypes['MemoryItem'], ParentType, ContextType>;
  keywordRank?: Resolver<Maybe<ResolversTypes['Int']>, ParentType, ContextType>;
  score?: Resolver<ResolversTypes['Float'], ParentType, ContextType>;
  similarity?: Resolver<Maybe<ResolversTypes['Float']>, ParentType, ContextType>;
  vectorRank?: Resolver<Maybe<ResolversTypes['Int']>, ParentType, ContextType>;
};

export type MemoryItemResolvers<ContextType = MemoryContext, ParentType extends ResolversParentTypes['MemoryItem'] = ResolversParentTypes['MemoryItem'], FederationReferenceType extends FederationReferenceTypes['MemoryItem'] = FederationReferenceTypes['MemoryItem']> = {
  __resolveReference?: ReferenceResolver<Maybe<ResolversTypes['MemoryItem']> | FederationReferenceType, FederationReferenceType, ContextType>;
  collection?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  createdAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  document?: Resolver<Maybe<ResolversTypes['MemoryDocument']>, ParentType, ContextType>;
  endOffset?: Resolver<Maybe<ResolversTypes['Int']>, ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  kind?: Resolver<ResolversTypes['MemoryItemKind'], ParentType, ContextType>;
  metadata?: Resolver<ResolversTypes['JSON'], ParentType, ContextType>;
  ordinal?: Resolver<Maybe<ResolversTypes['Int']>, ParentType, ContextType>;
  scope?: Resolver<ResolversTypes['MemoryScope'], ParentType, ContextType>;
  startOffset?: Resolver<Maybe<ResolversTypes['Int']>, ParentType, ContextType>;
  text?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
};

export type MemoryItemConnectionResolvers<ContextType = MemoryContext, ParentType extends ResolversParentTypes['MemoryItemConnection'] = ResolversParentTypes['MemoryItemConnection']> = {
  edges?: Resolver<Array<ResolversTypes['MemoryItemEdge']>, ParentType, ContextType>;
  pageInfo?: Resolver<ResolversTypes['PageInfo'], ParentType, ContextType>;
  totalCount?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type MemoryItemEdgeResolvers<ContextType = MemoryContext, ParentType extends ResolversParentTypes['MemoryItemEdge'] = ResolversParentTypes['MemoryItemEdge']> = {
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  node?: Resolver<ResolversTypes['MemoryItem'], ParentType, ContextType>;
};

export type MemoryScopeResolvers<ContextType = MemoryContext, ParentType extends ResolversParentTypes['MemoryScope'] = ResolversParentTypes['MemoryScope']> = {
  id?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  kind?: Resolver<ResolversTypes['MemoryScopeKind'], ParentType, ContextType>;
};

export type MutationResolvers<ContextType = MemoryContext, ParentType extends ResolversParentTypes['Mutation'] = ResolversParentTypes['Mutation']> = {
  deleteMemoryDocument?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType, RequireFields<MutationDeleteMemoryDocumentArgs, 'id'>>;
  forget?: Resolver<ResolversTypes['ForgetPayload'], ParentType, ContextType, RequireFields<MutationForgetArgs, 'input'>>;
  ingestDocument?: Resolver<ResolversTypes['MemoryDocument'], ParentType, ContextType, RequireFields<MutationIngestDocumentArgs, 'input'>>;
  remember?: Resolver<ResolversTypes['MemoryItem'], ParentType, ContextType, RequireFields<MutationRememberArgs, 'input'>>;
};

export type PageInfoResolvers<ContextType = MemoryContext, ParentType extends ResolversParentTypes['PageInfo'] = ResolversParentTypes['PageInfo']> = {
  endCursor?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  hasNextPage?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
};

export type QueryResolvers<ContextType = MemoryContext, ParentType extends ResolversParentTypes['Query'] = ResolversParentTypes['Query']> = {
  memories?: Resolver<ResolversTypes['MemoryItemConnection'], ParentType, ContextType, RequireFields<QueryMemoriesArgs, 'first'>>;
  memoryCollections?: Resolver<Array<ResolversTypes['MemoryCollection']>, ParentType, ContextType>;
  memoryDocument?: Resolver<ResolversTypes['MemoryDocument'], ParentType, ContextType, RequireFields<QueryMemoryDocumentArgs, 'id'>>;
  memoryDocuments?: Resolver<ResolversTypes['MemoryDocumentConnection'], ParentType, ContextType, RequireFields<QueryMemoryDocumentsArgs, 'first'>>;
  recall?: Resolver<Array<ResolversTypes['MemoryHit']>, ParentType, ContextType, RequireFields<QueryRecallArgs, 'input'>>;
  retrieveContext?: Resolver<ResolversTypes['RetrievedContext'], ParentType, ContextType, RequireFields<QueryRetrieveContextArgs, 'input'>>;
};

export type RetrievedContextResolvers<ContextType = MemoryContext, ParentType extends ResolversParentTypes['RetrievedContext'] = ResolversParentTypes['RetrievedContext']> = {
  citations?: Resolver<Array<ResolversTypes['Citation']>, ParentType, ContextType>;
  text?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
};

export type Resolvers<ContextType = MemoryContext> = {
  Citation?: CitationResolvers<ContextType>;
  DateTime?: GraphQLScalarType;
  ForgetPayload?: ForgetPayloadResolvers<ContextType>;
  JSON?: GraphQLScalarType;
  MemoryCollection?: MemoryCollectionResolvers<ContextType>;
  MemoryDocument?: MemoryDocumentResolvers<ContextType>;
  MemoryDocumentConnection?: MemoryDocumentConnectionResolvers<ContextType>;
  MemoryDocumentEdge?: MemoryDocumentEdgeResolvers<ContextType>;
  MemoryHit?: MemoryHitResolvers<ContextType>;
  MemoryItem?: MemoryItemResolvers<ContextType>;
  MemoryItemConnection?: MemoryItemConnectionResolvers<ContextType>;
  MemoryItemEdge?: MemoryItemEdgeResolvers<ContextType>;
  MemoryScope?: MemoryScopeResolvers<ContextType>;
  Mutation?: MutationResolvers<ContextType>;
  PageInfo?: PageInfoResolvers<ContextType>;
  Query?: QueryResolvers<ContextType>;
  RetrievedContext?: RetrievedContextResolvers<ContextType>;
};

export type DirectiveResolvers<ContextType = MemoryContext> = {
  policy?: PolicyDirectiveResolver<any, any, ContextType>;
  requiresCapability?: RequiresCapabilityDirectiveResolver<any, any, ContextType>;
};
