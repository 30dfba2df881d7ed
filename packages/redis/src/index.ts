export { RedisNonceStore, type RedisNonceStoreOptions } from './RedisNonceStore';
export { RedisRateLimiter, type RedisRateLimiterOptions } from './RedisRateLimiter';
export { RedisStreamLog, type RedisStreamLogOptions } from './RedisStreamLog';
