export * from '@somaagent/capsule-contract';
export { CapsuleService, type CapsulesLimits, DEFAULT_CAPSULES_LIMITS } from './CapsuleService';
export { CAPSULES_CAPABILITIES, type CapsulesCapability } from './capabilities';
export {
  type CapsulesContext,
  type CapsulesDeps,
  type CapsulesSubgraph,
  capsulesTypeDefs,
  createCapsulesSubgraph,
} from './createCapsulesSubgraph';
export { capsulesMigrations } from './migrations';
export { type CapsulesModuleConfig, capsulesModule } from './module';
export {
  capsuleJsonSchema,
  type DefinitionProblem,
  type ParseResult,
  parseCapsuleDefinition,
  sourcePosition,
  validateInputs,
} from './parseCapsuleDefinition';
