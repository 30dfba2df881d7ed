export { RedisStreamLog, type RedisStreamLogOptions } from './RedisStreamLog';
