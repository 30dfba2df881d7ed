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
 * journal engine and the standalone worker process): the runtime's database, streams, artifact
 * storage and policy decider, memory through the `capsuleRecall` port, and the capsule model.
 * Without `streams` run events are only written to the database (subscriptions then poll it).
 */
export function createCapsuleRunActivities(
  runtime: Pick<ModuleRuntime, 'db' | 'objectStorage' | 'policy'> & Partial<Pick<ModuleRuntime, 'streams'>>,
  ports: Partial<Pick<CrossDomainPorts, 'capsuleRecall'>>,
  capsuleModel?: CapsuleModel,
) {
  return createActivities({
    db: runtime.db,
    ...(runtime.streams ? { streams: runtime.streams } : {}),
    storage: runtime.objectStorage,
    policy: runtime.policy,
    ...(ports.capsuleRecall ? { retriever: ports.capsuleRecall } : {}),
    ...(capsuleModel ? { chat: capsuleModel } : {}),
  });
}
