import { fileURLToPath } from 'node:url';
import type { Migration } from '@somaagent/ports';
import { loadMigrations } from '@somaagent/postgres';

export { MEMORY_CAPABILITIES, type MemoryCapability } from './capabilities';
export { type Chunk, type ChunkOptions, chunkText } from './chunkText';
export {
  createMemorySubgraph,
  type MemoryContext,
  type MemoryDeps,
  type MemorySubgraph,
  memoryTypeDefs,
} from './createMemorySubgraph';
export { fuseRankings, recencyFactor } from './fuseRankings';
export {
  DEFAULT_MEMORY_LIMITS,
  type Hit,
  type MemoryLimits,
  MemoryService,
  resolveScope,
  SCOPE_KINDS,
} from './MemoryService';
export { HNSW_DIMENSIONS, PgVectorIndex, type PgVectorIndexOptions } from './PgVectorIndex';
export type * from './VectorIndex';

/** The memory schema's migrations (needs pgvector); apply with `db.migrate(memoryMigrations)`. */
export const memoryMigrations: Migration[] = loadMigrations(
  'memory',
  fileURLToPath(new URL('../migrations', import.meta.url)),
);
