export type * from './EventBus';
export type * from './SqlDatabase';
