export {
  createInProcessExecutor,
  type InProcessSubgraphOptions,
  type SubgraphExecutionRequest,
  type SubgraphExecutor,
} from './inProcessExecutor';
export { listenHttp } from './listenHttp';
export { type RunningSubgraph, type ServeSubgraphOptions, serveSubgraph } from './serveSubgraph';
