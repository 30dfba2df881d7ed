export * from './definition';
export type * from './runEvents';
export * from './runProtocol';
