export * from './definition';
export { capsulesMigrations } from './migrations';
export {
  capsuleJsonSchema,
  type DefinitionProblem,
  type ParseResult,
  parseCapsuleDefinition,
  validateInputs,
} from './parseCapsuleDefinition';
