export { InProcessEventBus } from './InProcessEventBus';
