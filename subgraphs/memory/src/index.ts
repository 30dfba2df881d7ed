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
export { memoryMigrations } from './migrations';
export { type MemoryModuleConfig, memoryModule } from './module';
export { HNSW_DIMENSIONS, PgVectorIndex, type PgVectorIndexOptions } from './PgVectorIndex';
export type * from './VectorIndex';
