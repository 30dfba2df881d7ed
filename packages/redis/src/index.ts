export { RedisStreamLog, type RedisStreamLogOptions } from './RedisStreamLog';
export { RedisNonceStore, type RedisNonceStoreOptions } from './RedisNonceStore';
