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
export { resolveScope, SCOPE_KINDS } from './inputChecks';
export { DEFAULT_MEMORY_LIMITS, type MemoryLimits } from './MemoryLimits';
export type { Hit } from './MemoryRecall';
export { MemoryService } from './MemoryService';
export { memoryMigrations } from './migrations';
export { type MemoryModuleConfig, memoryModule } from './module';
export { HNSW_DIMENSIONS, PgVectorIndex, type PgVectorIndexOptions } from './PgVectorIndex';
export type * from './VectorIndex';
