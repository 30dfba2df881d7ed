export {
  type Bridge,
  bridges,
  MemoryCapsuleRecallRetriever,
  MemorySessionContextRetriever,
} from './bridges/index';
export * from './config/index';
export { type CapsuleModel, createCapsuleRunActivities } from './createCapsuleRunActivities';
export {
  type CreatedModule,
  type CreateModulesOptions,
  checkModuleWiring,
  createModules,
  disposeModules,
  ModuleWiringError,
  modulesServing,
} from './createModules';
export { type ModuleConfigs, type PlatformModule, platformModules } from './modules';
export { type PlatformOptions, type RunningPlatform, startPlatform } from './startPlatform';
