export { KafkaEventBus, type KafkaEventBusOptions } from './KafkaEventBus';
