export { type PlatformOptions, type RunningPlatform, startPlatform } from './startPlatform';
