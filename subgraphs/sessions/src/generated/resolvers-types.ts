import type { GraphQLResolveInfo, GraphQLScalarType, GraphQLScalarTypeConfig } from 'graphql';
import type { SessionModel, MessageModel, PersonaModel, SessionEventModel } from '../models';
import type { SessionsContext } from '../createSessionsSubgraph';
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
  _FieldSet: { input: unknown; output: unknown; }
};

export type CreatePersonaInput = {
  /** 1..4096, default 512. */
  maxTokens?: InputMaybe<Scalars['Int']['input']>;
  /** A model of the price table (see docs/sessions.md); unknown models are refused. */
  model: Scalars['String']['input'];
  name: Scalars['String']['input'];
  /** @default OPENAI_COMPATIBLE when that provider is configured, else LOCAL */
  provider?: InputMaybe<ModelProvider>;
  /** 0..20, default 0: memory items recalled into each prompt (needs memory:read at send time). */
  recallK?: InputMaybe<Scalars['Int']['input']>;
  systemPrompt: Scalars['String']['input'];
  /** 0..2, default 0.7. */
  temperature?: InputMaybe<Scalars['Float']['input']>;
};

export type GenerationCancelled = SessionEvent & {
  __typename?: 'GenerationCancelled';
  messageId: Scalars['ID']['output'];
  occurredAt: Scalars['DateTime']['output'];
  sequence: Scalars['Int']['output'];
  sessionId: Scalars['ID']['output'];
  type: SessionEventType;
};

export type GenerationCompleted = SessionEvent & {
  __typename?: 'GenerationCompleted';
  finishReason: Scalars['String']['output'];
  messageId: Scalars['ID']['output'];
  occurredAt: Scalars['DateTime']['output'];
  sequence: Scalars['Int']['output'];
  sessionId: Scalars['ID']['output'];
  type: SessionEventType;
};

export type GenerationFailed = SessionEvent & {
  __typename?: 'GenerationFailed';
  /** Stable error code, e.g. UNAVAILABLE. */
  code: Scalars['String']['output'];
  message: Scalars['String']['output'];
  messageId: Scalars['ID']['output'];
  occurredAt: Scalars['DateTime']['output'];
  retriable: Scalars['Boolean']['output'];
  sequence: Scalars['Int']['output'];
  sessionId: Scalars['ID']['output'];
  type: SessionEventType;
};

/** Owned by the memory subgraph; referenced here by id. */
export type MemoryItem = {
  __typename?: 'MemoryItem';
  id: Scalars['ID']['output'];
};

export type Message = {
  __typename?: 'Message';
  /** Memory the answer's prompt was given (personas with recallK > 0), by [n] marker. */
  citations: Array<MessageCitation>;
  completionTokens: Scalars['Int']['output'];
  content: Scalars['String']['output'];
  costUsd: Scalars['Float']['output'];
  createdAt: Scalars['DateTime']['output'];
  /** stop, length, cancelled, error. */
  finishReason?: Maybe<Scalars['String']['output']>;
  id: Scalars['ID']['output'];
  /** Milliseconds from the request to the model until the last token (assistant messages). */
  latencyMs?: Maybe<Scalars['Int']['output']>;
  /** Prompt tokens the engine counted for this answer (0 for user messages). */
  promptTokens: Scalars['Int']['output'];
  role: MessageRole;
  sessionId: Scalars['ID']['output'];
  status: MessageStatus;
  /** Milliseconds until the first token (assistant messages). */
  timeToFirstTokenMs?: Maybe<Scalars['Int']['output']>;
};

/** A recalled memory item an answer was given; the item itself is resolved by the memory subgraph. */
export type MessageCitation = {
  __typename?: 'MessageCitation';
  marker: Scalars['Int']['output'];
  memoryItem: MemoryItem;
  score: Scalars['Float']['output'];
};

export type MessageConnection = {
  __typename?: 'MessageConnection';
  edges: Array<MessageEdge>;
  pageInfo: PageInfo;
  totalCount: Scalars['Int']['output'];
};

export type MessageEdge = {
  __typename?: 'MessageEdge';
  cursor: Scalars['String']['output'];
  node: Message;
};

export type MessageRole =
  | 'ASSISTANT'
  | 'USER';

export type MessageStatus =
  | 'CANCELLED'
  | 'COMPLETE'
  | 'FAILED'
  /** Still being generated. */
  | 'STREAMING';

export type ModelProvider =
  /** llama.cpp in the platform's own process (node-llama-cpp): the embedded default, serving soma-tiny unless SOMA_LOCAL_MODEL_PATH names another GGUF. */
  | 'LOCAL'
  /** Any OpenAI-compatible server (configured with SOMA_LLM_BASE_URL). */
  | 'OPENAI_COMPATIBLE';

export type Mutation = {
  __typename?: 'Mutation';
  /** Needs sessions:write. Stops the answer being generated; returns it (CANCELLED) or null if none. */
  cancelGeneration?: Maybe<Message>;
  /** Needs sessions:write. Cancels any answer in progress. */
  closeSession: Session;
  /** Needs personas:write. */
  createPersona: Persona;
  /** Needs sessions:write. CONFLICT while the session is still answering. */
  sendMessage: SendMessagePayload;
  /** Needs sessions:write. */
  startSession: Session;
};


export type MutationCancelGenerationArgs = {
  sessionId: Scalars['ID']['input'];
};


export type MutationCloseSessionArgs = {
  id: Scalars['ID']['input'];
};


export type MutationCreatePersonaArgs = {
  input: CreatePersonaInput;
};


export type MutationSendMessageArgs = {
  input: SendMessageInput;
};


export type MutationStartSessionArgs = {
  input: StartSessionInput;
};

/** Relay page information, shared by every subgraph's connections. */
export type PageInfo = {
  __typename?: 'PageInfo';
  endCursor?: Maybe<Scalars['String']['output']>;
  hasNextPage: Scalars['Boolean']['output'];
};

/** How an assistant behaves: which model, with what instructions and limits. */
export type Persona = {
  __typename?: 'Persona';
  createdAt: Scalars['DateTime']['output'];
  id: Scalars['ID']['output'];
  /** Upper bound of completion tokens per answer. */
  maxTokens: Scalars['Int']['output'];
  model: Scalars['String']['output'];
  name: Scalars['String']['output'];
  provider: ModelProvider;
  /** Memory items recalled into each prompt (hybrid retrieval over the caller's memory); 0 = off. */
  recallK: Scalars['Int']['output'];
  systemPrompt: Scalars['String']['output'];
  temperature: Scalars['Float']['output'];
};

export type PersonaConnection = {
  __typename?: 'PersonaConnection';
  edges: Array<PersonaEdge>;
  pageInfo: PageInfo;
  totalCount: Scalars['Int']['output'];
};

export type PersonaEdge = {
  __typename?: 'PersonaEdge';
  cursor: Scalars['String']['output'];
  node: Persona;
};

export type Query = {
  __typename?: 'Query';
  /** Personas of the caller's tenant. Needs sessions:read. */
  personas: PersonaConnection;
  /** Needs sessions:read. Another tenant's session is FORBIDDEN; an unknown id NOT_FOUND. */
  session: Session;
  /** Sessions of the caller's tenant, newest first. Needs sessions:read. */
  sessions: SessionConnection;
};


export type QueryPersonasArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};


export type QuerySessionArgs = {
  id: Scalars['ID']['input'];
};


export type QuerySessionsArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
  status?: InputMaybe<SessionStatus>;
};

export type SendMessageInput = {
  /** 1..32000 characters. */
  content: Scalars['String']['input'];
  sessionId: Scalars['ID']['input'];
};

export type SendMessagePayload = {
  __typename?: 'SendMessagePayload';
  /** Subscribe to sessionEvents with this afterSequence to receive exactly this answer's events. */
  afterSequence: Scalars['Int']['output'];
  /** The answer being generated (status STREAMING); its tokens arrive on sessionEvents. */
  assistantMessage: Message;
  userMessage: Message;
};

/** A conversation of one user with one persona. */
export type Session = {
  __typename?: 'Session';
  createdAt: Scalars['DateTime']['output'];
  id: Scalars['ID']['output'];
  /** Sequence of the last event of this session; subscribe with afterSequence to resume. */
  lastSequence: Scalars['Int']['output'];
  /** Oldest first. first: 1..100, default 20. */
  messages: MessageConnection;
  model: Scalars['String']['output'];
  persona: Persona;
  status: SessionStatus;
  title?: Maybe<Scalars['String']['output']>;
  updatedAt: Scalars['DateTime']['output'];
  /** Sum over the session's messages. */
  usage: Usage;
  /** The user (token subject) who started it. */
  userId: Scalars['String']['output'];
};


/** A conversation of one user with one persona. */
export type SessionMessagesArgs = {
  after?: InputMaybe<Scalars['String']['input']>;
  first?: InputMaybe<Scalars['Int']['input']>;
};

export type SessionConnection = {
  __typename?: 'SessionConnection';
  edges: Array<SessionEdge>;
  pageInfo: PageInfo;
  totalCount: Scalars['Int']['output'];
};

export type SessionEdge = {
  __typename?: 'SessionEdge';
  cursor: Scalars['String']['output'];
  node: Session;
};

/** One event of a session's live stream. sequence increases by one per event, per session. */
export type SessionEvent = {
  messageId: Scalars['ID']['output'];
  occurredAt: Scalars['DateTime']['output'];
  sequence: Scalars['Int']['output'];
  sessionId: Scalars['ID']['output'];
  type: SessionEventType;
};

export type SessionEventType =
  | 'CANCELLED'
  | 'COMPLETED'
  | 'FAILED'
  | 'TOKEN'
  | 'TOOL_CALL_REQUESTED'
  | 'TOOL_CALL_RESULT'
  | 'USAGE';

export type SessionStatus =
  | 'CLOSED'
  | 'OPEN';

export type StartSessionInput = {
  personaId: Scalars['ID']['input'];
  title?: InputMaybe<Scalars['String']['input']>;
};

export type Subscription = {
  __typename?: 'Subscription';
  /**
   * Live events of one session. With afterSequence, first replays every retained event after it
   * (retained for at least 10 minutes), in order and without duplicates, then continues live.
   * Needs sessions:read.
   */
  sessionEvents: SessionEvent;
};


export type SubscriptionSessionEventsArgs = {
  afterSequence?: InputMaybe<Scalars['Int']['input']>;
  sessionId: Scalars['ID']['input'];
};

export type TokenDelta = SessionEvent & {
  __typename?: 'TokenDelta';
  /** The text this event adds to the answer. */
  delta: Scalars['String']['output'];
  messageId: Scalars['ID']['output'];
  occurredAt: Scalars['DateTime']['output'];
  sequence: Scalars['Int']['output'];
  sessionId: Scalars['ID']['output'];
  type: SessionEventType;
};

/** Shape ready for the tools domain: the model asks for a tool call. */
export type ToolCallRequested = SessionEvent & {
  __typename?: 'ToolCallRequested';
  argumentsJson: Scalars['String']['output'];
  callId: Scalars['ID']['output'];
  messageId: Scalars['ID']['output'];
  occurredAt: Scalars['DateTime']['output'];
  sequence: Scalars['Int']['output'];
  sessionId: Scalars['ID']['output'];
  toolName: Scalars['String']['output'];
  type: SessionEventType;
};

export type ToolCallResult = SessionEvent & {
  __typename?: 'ToolCallResult';
  callId: Scalars['ID']['output'];
  isError: Scalars['Boolean']['output'];
  messageId: Scalars['ID']['output'];
  occurredAt: Scalars['DateTime']['output'];
  resultJson: Scalars['String']['output'];
  sequence: Scalars['Int']['output'];
  sessionId: Scalars['ID']['output'];
  type: SessionEventType;
};

export type Usage = {
  __typename?: 'Usage';
  completionTokens: Scalars['Int']['output'];
  /** US dollars, from the per-model price table. */
  costUsd: Scalars['Float']['output'];
  promptTokens: Scalars['Int']['output'];
  totalTokens: Scalars['Int']['output'];
};

export type UsageReported = SessionEvent & {
  __typename?: 'UsageReported';
  completionTokens: Scalars['Int']['output'];
  costUsd: Scalars['Float']['output'];
  messageId: Scalars['ID']['output'];
  occurredAt: Scalars['DateTime']['output'];
  promptTokens: Scalars['Int']['output'];
  sequence: Scalars['Int']['output'];
  sessionId: Scalars['ID']['output'];
  type: SessionEventType;
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
  Message: Message;
  Persona: Persona;
  Session: Session;
};

/** Mapping of federation reference types */
export type FederationReferenceTypes = {
  Message:
    ( { __typename: 'Message' }
    & GraphQLRecursivePick<FederationTypes['Message'], {"id":true}> );
  Persona:
    ( { __typename: 'Persona' }
    & GraphQLRecursivePick<FederationTypes['Persona'], {"id":true}> );
  Session:
    ( { __typename: 'Session' }
    & GraphQLRecursivePick<FederationTypes['Session'], {"id":true}> );
};



/** Mapping between all available schema types and the resolvers types */
export type ResolversTypes = {
  CreatePersonaInput: CreatePersonaInput;
  Int: ResolverTypeWrapper<Scalars['Int']['output']>;
  Float: ResolverTypeWrapper<Scalars['Float']['output']>;
  DateTime: ResolverTypeWrapper<Scalars['DateTime']['output']>;
  GenerationCancelled: ResolverTypeWrapper<GenerationCancelled>;
  ID: ResolverTypeWrapper<Scalars['ID']['output']>;
  GenerationCompleted: ResolverTypeWrapper<GenerationCompleted>;
  GenerationFailed: ResolverTypeWrapper<GenerationFailed>;
  Boolean: ResolverTypeWrapper<Scalars['Boolean']['output']>;
  MemoryItem: ResolverTypeWrapper<MemoryItem>;
  Message: ResolverTypeWrapper<MessageModel>;
  MessageCitation: ResolverTypeWrapper<MessageCitation>;
  MessageConnection: ResolverTypeWrapper<Omit<MessageConnection, 'edges'> & { edges: Array<ResolversTypes['MessageEdge']> }>;
  MessageEdge: ResolverTypeWrapper<Omit<MessageEdge, 'node'> & { node: ResolversTypes['Message'] }>;
  MessageRole: MessageRole;
  MessageStatus: MessageStatus;
  ModelProvider: ModelProvider;
  Mutation: ResolverTypeWrapper<Record<PropertyKey, never>>;
  PageInfo: ResolverTypeWrapper<PageInfo>;
  Persona: ResolverTypeWrapper<PersonaModel>;
  PersonaConnection: ResolverTypeWrapper<Omit<PersonaConnection, 'edges'> & { edges: Array<ResolversTypes['PersonaEdge']> }>;
  PersonaEdge: ResolverTypeWrapper<Omit<PersonaEdge, 'node'> & { node: ResolversTypes['Persona'] }>;
  Query: ResolverTypeWrapper<Record<PropertyKey, never>>;
  SendMessageInput: SendMessageInput;
  SendMessagePayload: ResolverTypeWrapper<Omit<SendMessagePayload, 'assistantMessage' | 'userMessage'> & { assistantMessage: ResolversTypes['Message'], userMessage: ResolversTypes['Message'] }>;
  Session: ResolverTypeWrapper<SessionModel>;
  SessionConnection: ResolverTypeWrapper<Omit<SessionConnection, 'edges'> & { edges: Array<ResolversTypes['SessionEdge']> }>;
  SessionEdge: ResolverTypeWrapper<Omit<SessionEdge, 'node'> & { node: ResolversTypes['Session'] }>;
  SessionEvent: ResolverTypeWrapper<SessionEventModel>;
  SessionEventType: SessionEventType;
  SessionStatus: SessionStatus;
  StartSessionInput: StartSessionInput;
  Subscription: ResolverTypeWrapper<Record<PropertyKey, never>>;
  TokenDelta: ResolverTypeWrapper<TokenDelta>;
  ToolCallRequested: ResolverTypeWrapper<ToolCallRequested>;
  ToolCallResult: ResolverTypeWrapper<ToolCallResult>;
  Usage: ResolverTypeWrapper<Usage>;
  UsageReported: ResolverTypeWrapper<UsageReported>;
  String: ResolverTypeWrapper<Scalars['String']['output']>;
};

/** Mapping between all available schema types and the resolvers parents */
export type ResolversParentTypes = {
  CreatePersonaInput: CreatePersonaInput;
  Int: Scalars['Int']['output'];
  Float: Scalars['Float']['output'];
  DateTime: Scalars['DateTime']['output'];
  GenerationCancelled: GenerationCancelled;
  ID: Scalars['ID']['output'];
  GenerationCompleted: GenerationCompleted;
  GenerationFailed: GenerationFailed;
  Boolean: Scalars['Boolean']['output'];
  MemoryItem: MemoryItem;
  Message: MessageModel;
  MessageCitation: MessageCitation;
  MessageConnection: Omit<MessageConnection, 'edges'> & { edges: Array<ResolversParentTypes['MessageEdge']> };
  MessageEdge: Omit<MessageEdge, 'node'> & { node: ResolversParentTypes['Message'] };
  Mutation: Record<PropertyKey, never>;
  PageInfo: PageInfo;
  Persona: PersonaModel;
  PersonaConnection: Omit<PersonaConnection, 'edges'> & { edges: Array<ResolversParentTypes['PersonaEdge']> };
  PersonaEdge: Omit<PersonaEdge, 'node'> & { node: ResolversParentTypes['Persona'] };
  Query: Record<PropertyKey, never>;
  SendMessageInput: SendMessageInput;
  SendMessagePayload: Omit<SendMessagePayload, 'assistantMessage' | 'userMessage'> & { assistantMessage: ResolversParentTypes['Message'], userMessage: ResolversParentTypes['Message'] };
  Session: SessionModel;
  SessionConnection: Omit<SessionConnection, 'edges'> & { edges: Array<ResolversParentTypes['SessionEdge']> };
  SessionEdge: Omit<SessionEdge, 'node'> & { node: ResolversParentTypes['Session'] };
  SessionEvent: SessionEventModel;
  StartSessionInput: StartSessionInput;
  Subscription: Record<PropertyKey, never>;
  TokenDelta: TokenDelta;
  ToolCallRequested: ToolCallRequested;
  ToolCallResult: ToolCallResult;
  Usage: Usage;
  UsageReported: UsageReported;
  String: Scalars['String']['output'];
};

export type PolicyDirectiveArgs = {
  name: Scalars['String']['input'];
};

export type PolicyDirectiveResolver<Result, Parent, ContextType = SessionsContext, Args = PolicyDirectiveArgs> = DirectiveResolverFn<Result, Parent, ContextType, Args>;

export type RequiresCapabilityDirectiveArgs = {
  capabilities: Array<Scalars['String']['input']>;
};

export type RequiresCapabilityDirectiveResolver<Result, Parent, ContextType = SessionsContext, Args = RequiresCapabilityDirectiveArgs> = DirectiveResolverFn<Result, Parent, ContextType, Args>;

export interface DateTimeScalarConfig extends GraphQLScalarTypeConfig<ResolversTypes['DateTime'], any> {
  name: 'DateTime';
}

export type GenerationCancelledResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['GenerationCancelled'] = ResolversParentTypes['GenerationCancelled']> = {
  messageId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  occurredAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  sequence?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  sessionId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  type?: Resolver<ResolversTypes['SessionEventType'], ParentType, ContextType>;
  __isTypeOf?: IsTypeOfResolverFn<ParentType, ContextType>;
};

export type GenerationCompletedResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['GenerationCompleted'] = ResolversParentTypes['GenerationCompleted']> = {
  finishReason?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  messageId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  occurredAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  sequence?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  sessionId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  type?: Resolver<ResolversTypes['SessionEventType'], ParentType, ContextType>;
  __isTypeOf?: IsTypeOfResolverFn<ParentType, ContextType>;
};

export type GenerationFailedResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['GenerationFailed'] = ResolversParentTypes['GenerationFailed']> = {
  code?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  message?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  messageId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  occurredAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  retriable?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  sequence?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  sessionId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  type?: Resolver<ResolversTypes['SessionEventType'], ParentType, ContextType>;
  __isTypeOf?: IsTypeOfResolverFn<ParentType, ContextType>;
};

export type MemoryItemResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['MemoryItem'] = ResolversParentTypes['MemoryItem']> = {
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
};

export type MessageResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['Message'] = ResolversParentTypes['Message'], FederationReferenceType extends FederationReferenceTypes['Message'] = FederationReferenceTypes['Message']> = {
  __resolveReference?: ReferenceResolver<Maybe<ResolversTypes['Message']> | FederationReferenceType, FederationReferenceType, ContextType>;
  citations?: Resolver<Array<ResolversTypes['MessageCitation']>, ParentType, ContextType>;
  completionTokens?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  content?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  costUsd?: Resolver<ResolversTypes['Float'], ParentType, ContextType>;
  createdAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  finishReason?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  latencyMs?: Resolver<Maybe<ResolversTypes['Int']>, ParentType, ContextType>;
  promptTokens?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  role?: Resolver<ResolversTypes['MessageRole'], ParentType, ContextType>;
  sessionId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  status?: Resolver<ResolversTypes['MessageStatus'], ParentType, ContextType>;
  timeToFirstTokenMs?: Resolver<Maybe<ResolversTypes['Int']>, ParentType, ContextType>;
};

export type MessageCitationResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['MessageCitation'] = ResolversParentTypes['MessageCitation']> = {
  marker?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  memoryItem?: Resolver<ResolversTypes['MemoryItem'], ParentType, ContextType>;
  score?: Resolver<ResolversTypes['Float'], ParentType, ContextType>;
};

export type MessageConnectionResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['MessageConnection'] = ResolversParentTypes['MessageConnection']> = {
  edges?: Resolver<Array<ResolversTypes['MessageEdge']>, ParentType, ContextType>;
  pageInfo?: Resolver<ResolversTypes['PageInfo'], ParentType, ContextType>;
  totalCount?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type MessageEdgeResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['MessageEdge'] = ResolversParentTypes['MessageEdge']> = {
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  node?: Resolver<ResolversTypes['Message'], ParentType, ContextType>;
};

export type MutationResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['Mutation'] = ResolversParentTypes['Mutation']> = {
  cancelGeneration?: Resolver<Maybe<ResolversTypes['Message']>, ParentType, ContextType, RequireFields<MutationCancelGenerationArgs, 'sessionId'>>;
  closeSession?: Resolver<ResolversTypes['Session'], ParentType, ContextType, RequireFields<MutationCloseSessionArgs, 'id'>>;
  createPersona?: Resolver<ResolversTypes['Persona'], ParentType, ContextType, RequireFields<MutationCreatePersonaArgs, 'input'>>;
  sendMessage?: Resolver<ResolversTypes['SendMessagePayload'], ParentType, ContextType, RequireFields<MutationSendMessageArgs, 'input'>>;
  startSession?: Resolver<ResolversTypes['Session'], ParentType, ContextType, RequireFields<MutationStartSessionArgs, 'input'>>;
};

export type PageInfoResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['PageInfo'] = ResolversParentTypes['PageInfo']> = {
  endCursor?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  hasNextPage?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
};

export type PersonaResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['Persona'] = ResolversParentTypes['Persona'], FederationReferenceType extends FederationReferenceTypes['Persona'] = FederationReferenceTypes['Persona']> = {
  __resolveReference?: ReferenceResolver<Maybe<ResolversTypes['Persona']> | FederationReferenceType, FederationReferenceType, ContextType>;
  createdAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  maxTokens?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  model?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  name?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  provider?: Resolver<ResolversTypes['ModelProvider'], ParentType, ContextType>;
  recallK?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  systemPrompt?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  temperature?: Resolver<ResolversTypes['Float'], ParentType, ContextType>;
};

export type PersonaConnectionResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['PersonaConnection'] = ResolversParentTypes['PersonaConnection']> = {
  edges?: Resolver<Array<ResolversTypes['PersonaEdge']>, ParentType, ContextType>;
  pageInfo?: Resolver<ResolversTypes['PageInfo'], ParentType, ContextType>;
  totalCount?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type PersonaEdgeResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['PersonaEdge'] = ResolversParentTypes['PersonaEdge']> = {
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  node?: Resolver<ResolversTypes['Persona'], ParentType, ContextType>;
};

export type QueryResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['Query'] = ResolversParentTypes['Query']> = {
  personas?: Resolver<ResolversTypes['PersonaConnection'], ParentType, ContextType, RequireFields<QueryPersonasArgs, 'first'>>;
  session?: Resolver<ResolversTypes['Session'], ParentType, ContextType, RequireFields<QuerySessionArgs, 'id'>>;
  sessions?: Resolver<ResolversTypes['SessionConnection'], ParentType, ContextType, RequireFields<QuerySessionsArgs, 'first'>>;
};

export type SendMessagePayloadResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['SendMessagePayload'] = ResolversParentTypes['SendMessagePayload']> = {
  afterSequence?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  assistantMessage?: Resolver<ResolversTypes['Message'], ParentType, ContextType>;
  userMessage?: Resolver<ResolversTypes['Message'], ParentType, ContextType>;
};

export type SessionResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['Session'] = ResolversParentTypes['Session'], FederationReferenceType extends FederationReferenceTypes['Session'] = FederationReferenceTypes['Session']> = {
  __resolveReference?: ReferenceResolver<Maybe<ResolversTypes['Session']> | FederationReferenceType, FederationReferenceType, ContextType>;
  createdAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  id?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  lastSequence?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  messages?: Resolver<ResolversTypes['MessageConnection'], ParentType, ContextType, RequireFields<SessionMessagesArgs, 'first'>>;
  model?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  persona?: Resolver<ResolversTypes['Persona'], ParentType, ContextType>;
  status?: Resolver<ResolversTypes['SessionStatus'], ParentType, ContextType>;
  title?: Resolver<Maybe<ResolversTypes['String']>, ParentType, ContextType>;
  updatedAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  usage?: Resolver<ResolversTypes['Usage'], ParentType, ContextType>;
  userId?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
};

export type SessionConnectionResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['SessionConnection'] = ResolversParentTypes['SessionConnection']> = {
  edges?: Resolver<Array<ResolversTypes['SessionEdge']>, ParentType, ContextType>;
  pageInfo?: Resolver<ResolversTypes['PageInfo'], ParentType, ContextType>;
  totalCount?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type SessionEdgeResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['SessionEdge'] = ResolversParentTypes['SessionEdge']> = {
  cursor?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  node?: Resolver<ResolversTypes['Session'], ParentType, ContextType>;
};

export type SessionEventResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['SessionEvent'] = ResolversParentTypes['SessionEvent']> = {
  __resolveType: TypeResolveFn<'GenerationCancelled' | 'GenerationCompleted' | 'GenerationFailed' | 'TokenDelta' | 'ToolCallRequested' | 'ToolCallResult' | 'UsageReported', ParentType, ContextType>;
};

export type SubscriptionResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['Subscription'] = ResolversParentTypes['Subscription']> = {
  sessionEvents?: SubscriptionResolver<ResolversTypes['SessionEvent'], "sessionEvents", ParentType, ContextType, RequireFields<SubscriptionSessionEventsArgs, 'afterSequence' | 'sessionId'>>;
};

export type TokenDeltaResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['TokenDelta'] = ResolversParentTypes['TokenDelta']> = {
  delta?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  messageId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  occurredAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  sequence?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  sessionId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  type?: Resolver<ResolversTypes['SessionEventType'], ParentType, ContextType>;
  __isTypeOf?: IsTypeOfResolverFn<ParentType, ContextType>;
};

export type ToolCallRequestedResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['ToolCallRequested'] = ResolversParentTypes['ToolCallRequested']> = {
  argumentsJson?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  callId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  messageId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  occurredAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  sequence?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  sessionId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  toolName?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  type?: Resolver<ResolversTypes['SessionEventType'], ParentType, ContextType>;
  __isTypeOf?: IsTypeOfResolverFn<ParentType, ContextType>;
};

export type ToolCallResultResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['ToolCallResult'] = ResolversParentTypes['ToolCallResult']> = {
  callId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  isError?: Resolver<ResolversTypes['Boolean'], ParentType, ContextType>;
  messageId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  occurredAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  resultJson?: Resolver<ResolversTypes['String'], ParentType, ContextType>;
  sequence?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  sessionId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  type?: Resolver<ResolversTypes['SessionEventType'], ParentType, ContextType>;
  __isTypeOf?: IsTypeOfResolverFn<ParentType, ContextType>;
};

export type UsageResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['Usage'] = ResolversParentTypes['Usage']> = {
  completionTokens?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  costUsd?: Resolver<ResolversTypes['Float'], ParentType, ContextType>;
  promptTokens?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  totalTokens?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
};

export type UsageReportedResolvers<ContextType = SessionsContext, ParentType extends ResolversParentTypes['UsageReported'] = ResolversParentTypes['UsageReported']> = {
  completionTokens?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  costUsd?: Resolver<ResolversTypes['Float'], ParentType, ContextType>;
  messageId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  occurredAt?: Resolver<ResolversTypes['DateTime'], ParentType, ContextType>;
  promptTokens?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  sequence?: Resolver<ResolversTypes['Int'], ParentType, ContextType>;
  sessionId?: Resolver<ResolversTypes['ID'], ParentType, ContextType>;
  type?: Resolver<ResolversTypes['SessionEventType'], ParentType, ContextType>;
  __isTypeOf?: IsTypeOfResolverFn<ParentType, ContextType>;
};

export type Resolvers<ContextType = SessionsContext> = {
  DateTime?: GraphQLScalarType;
  GenerationCancelled?: GenerationCancelledResolvers<ContextType>;
  GenerationCompleted?: GenerationCompletedResolvers<ContextType>;
  GenerationFailed?: GenerationFailedResolvers<ContextType>;
  MemoryItem?: MemoryItemResolvers<ContextType>;
  Message?: MessageResolvers<ContextType>;
  MessageCitation?: MessageCitationResolvers<ContextType>;
  MessageConnection?: MessageConnectionResolvers<ContextType>;
  MessageEdge?: MessageEdgeResolvers<ContextType>;
  Mutation?: MutationResolvers<ContextType>;
  PageInfo?: PageInfoResolvers<ContextType>;
  Persona?: PersonaResolvers<ContextType>;
  PersonaConnection?: PersonaConnectionResolvers<ContextType>;
  PersonaEdge?: PersonaEdgeResolvers<ContextType>;
  Query?: QueryResolvers<ContextType>;
  SendMessagePayload?: SendMessagePayloadResolvers<ContextType>;
  Session?: SessionResolvers<ContextType>;
  SessionConnection?: SessionConnectionResolvers<ContextType>;
  SessionEdge?: SessionEdgeResolvers<ContextType>;
  SessionEvent?: SessionEventResolvers<ContextType>;
  Subscription?: SubscriptionResolvers<ContextType>;
  TokenDelta?: TokenDeltaResolvers<ContextType>;
  ToolCallRequested?: ToolCallRequestedResolvers<ContextType>;
  ToolCallResult?: ToolCallResultResolvers<ContextType>;
  Usage?: UsageResolvers<ContextType>;
  UsageReported?: UsageReportedResolvers<ContextType>;
};

export type DirectiveResolvers<ContextType = SessionsContext> = {
  policy?: PolicyDirectiveResolver<any, any, ContextType>;
  requiresCapability?: RequiresCapabilityDirectiveResolver<any, any, ContextType>;
};
