export { RedisNonceStore, type RedisNonceStoreOptions } from './RedisNonceStore';
export { RedisRateLimiter, type RedisRateLimiterOptions } from './RedisRateLimiter';
export { RedisSignInAttemptStore, type RedisSignInAttemptStoreOptions } from './RedisSignInAttemptStore';
export { RedisStreamLog, type RedisStreamLogOptions } from './RedisStreamLog';
