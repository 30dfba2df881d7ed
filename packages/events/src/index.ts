export { InMemoryRateLimiter } from './InMemoryRateLimiter';
export { InMemoryStreamLog, type InMemoryStreamLogOptions } from './InMemoryStreamLog';
export { InProcessEventBus } from './InProcessEventBus';
export { OutboxRelay, type OutboxRelayOptions } from './OutboxRelay';
