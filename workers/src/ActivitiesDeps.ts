import type { PolicyDecider } from '@somaagent/policy';
import type {
  CapsuleMarkedStepStatus,
  CapsuleRunStarter,
  CapsuleRunStore,
  ChatModel,
  ContextRetriever,
  ObjectStorage,
  StreamLog,
} from '@somaagent/ports';

/** Which capsule a step belongs to and the policies named by it and every capsule around it. */
export interface StepGate {
  capsule: string;
  version: string;
  policies: string[];
}

/** Who started a run, as the capsules domain recorded it: the policy's subject plus the token's issuer. */
export type RunStarter = CapsuleRunStarter;

export interface ActivitiesDeps {
  /**
   * Every run-state write (steps, attempts, events, artifacts, tool calls) goes here: the
   * capsules domain's `capsuleRunStore` port. The workers never touch its tables.
   */
  store: CapsuleRunStore;
  /** Live run events (the subscription replays from the database and follows this). */
  streams?: StreamLog;
  /** Model-call steps: the sessions domain's ChatModel port and the model to ask by default. */
  chat?: { model: ChatModel; defaultModel: string };
  /** Artifact steps write here. */
  storage?: ObjectStorage;
  /**
   * Gates every model / tool / memory / artifact step before its work runs (docs/capsules.md,
   * "Policy gating"); share the router's decider so every decision is audited in one place.
   * @default none: the constitution is not consulted, and a step of a capsule that NAMES
   * policies is denied (a policy a capsule asks for is never silently skipped). The platform and
   * platform/src/worker.ts always pass one; only tests of the engines alone leave it out.
   */
  policy?: PolicyDecider;
  /**
   * Memory-recall steps search through this port (the memory domain implements it; workers do
   * not import that domain). @default none: memory-recall steps fail, saying so
   */
  retriever?: ContextRetriever;
}

export interface RunRef {
  tenantId: string;
  runId: string;
}

/** The step kinds that do work in an activity (the others are decided in the workflow). */
export type ExecutableStepKind = 'modelCall' | 'toolCall' | 'memoryRecall' | 'artifact';

export interface ExecuteStepArgs extends RunRef {
  key: string;
  kind: ExecutableStepKind;
  spec: Record<string, unknown>;
  /** Absent in runs whose workflow started before gates were passed: the run's capsule row is read instead. */
  gate?: StepGate;
}

export interface MarkStepArgs extends RunRef {
  key: string;
  kind: string;
  status: CapsuleMarkedStepStatus;
  detail: Record<string, unknown>;
}

export interface FinishRunArgs extends RunRef {
  status: 'COMPLETED' | 'FAILED' | 'CANCELLED';
  output?: unknown;
  error?: string;
}
