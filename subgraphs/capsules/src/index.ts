export * from '@somaagent/capsule-contract';
export { CapsuleCatalogue } from './CapsuleCatalogue';
export { CapsuleRunEventFeed } from './CapsuleRunEventFeed';
export { CapsuleRuns } from './CapsuleRuns';
export { CapsuleService, type CapsulesLimits, DEFAULT_CAPSULES_LIMITS } from './CapsuleService';
export { CapsuleStore } from './CapsuleStore';
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
export { SqlCapsuleRunStore } from './SqlCapsuleRunStore';
