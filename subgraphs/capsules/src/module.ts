import { defineSubgraphModule, type ModuleDeps } from '@somaagent/subgraph-server';
import { CAPSULES_CAPABILITIES } from './capabilities';
import { type CapsulesDeps, createCapsulesSubgraph } from './createCapsulesSubgraph';
import { capsulesMigrations } from './migrations';

/** The capsules module's own settings (engine, storage, streams and policy come from the runtime). */
export type CapsulesModuleConfig = Omit<CapsulesDeps, 'db' | 'engine' | 'storage' | 'streams' | 'policy'>;

/**
 * Capsule definitions and durable runs. Provides `capsuleRunStore`, the only way the run workers
 * write run state into its tables. Needs `capsuleRecall` for its runs' memory-recall steps: the
 * run worker (the runtime's workflow engine) is built with both, so the engine is asked for on
 * first use, after the list is created, never during `create`.
 */
export const capsulesModule = defineSubgraphModule({
  name: 'capsules',
  migrations: capsulesMigrations,
  capabilities: CAPSULES_CAPABILITIES,
  provides: ['capsuleRunStore'],
  needs: ['capsuleRecall'],
  create: async ({ runtime, config }: ModuleDeps<CapsulesModuleConfig, 'capsuleRecall'>) =>
    createCapsulesSubgraph({
      ...config,
      db: runtime.db,
      engine: () => runtime.workflowEngine(),
      storage: runtime.objectStorage,
      streams: runtime.streams,
      policy: runtime.policyEvaluator,
    }),
});
