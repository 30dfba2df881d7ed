export type * from './SqlDatabase';
export type * from './EventBus';
