// Relay pagination is shared by every subgraph (packages/pagination).
export * from '@somaagent/pagination';
