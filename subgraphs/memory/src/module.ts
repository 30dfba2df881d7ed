import { defineSubgraphModule, type ModuleDeps } from '@somaagent/subgraph-server';
import { MEMORY_CAPABILITIES } from './capabilities';
import { createMemorySubgraph, type MemoryDeps } from './createMemorySubgraph';
import { memoryMigrations } from './migrations';

/** The memory module's own settings (the database and embedding model come from the runtime). */
export type MemoryModuleConfig = Omit<MemoryDeps, 'db' | 'embedder'>;

/**
 * Memories, documents and hybrid retrieval. Provides memory to the other domains: the
 * composition root's bridges adapt its service to `sessionContext` and `capsuleRecall`.
 */
export const memoryModule = defineSubgraphModule({
  name: 'memory',
  migrations: memoryMigrations,
  capabilities: MEMORY_CAPABILITIES,
  provides: ['sessionContext', 'capsuleRecall'],
  needs: [],
  create: ({ runtime, config }: ModuleDeps<MemoryModuleConfig, never>) =>
    createMemorySubgraph({ ...config, db: runtime.db, embedder: runtime.embedder }),
});
