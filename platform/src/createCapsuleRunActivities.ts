import type { ChatModel, CrossDomainPorts } from '@somaagent/ports';
import type { ModuleRuntime } from '@somaagent/subgraph-server';
import { createActivities } from '@somaagent/workers';

/** The model of capsule model-call steps and the model name a step without `model` asks for. */
export interface CapsuleModel {
  model: ChatModel;
  defaultModel: string;
}

/**
 * The capsule-run activities, wired the same way wherever a worker runs (the embedded platform's
 * journal engine and the standalone worker process): run state through the capsules domain's
 * `capsuleRunStore` port, memory through the `capsuleRecall` port, the runtime's streams,
 * artifact storage and policy decider, and the capsule model. Call it once the modules of the
 * list are created (the capsules module provides the store). Without `streams` run events are
 * only written to the database (subscriptions then poll it).
 */
export function createCapsuleRunActivities(
  runtime: Pick<ModuleRuntime, 'objectStorage' | 'policy'> & Partial<Pick<ModuleRuntime, 'streams'>>,
  ports: Partial<Pick<CrossDomainPorts, 'capsuleRecall' | 'capsuleRunStore'>>,
  capsuleModel?: CapsuleModel,
) {
  if (!ports.capsuleRunStore) {
    throw new Error(
      'capsule runs need the "capsuleRunStore" port: create the capsules module (which provides it) before the run worker',
    );
  }
  return createActivities({
    store: ports.capsuleRunStore,
    ...(runtime.streams ? { streams: runtime.streams } : {}),
    storage: runtime.objectStorage,
    policy: runtime.policy,
    ...(ports.capsuleRecall ? { retriever: ports.capsuleRecall } : {}),
    ...(capsuleModel ? { chat: capsuleModel } : {}),
  });
}
