export {
  createInProcessExecutor,
  type InProcessSubgraphOptions,
  type SubgraphExecutionRequest,
  type SubgraphExecutor,
} from './inProcessExecutor';
export { type RunningSubgraph, type ServeSubgraphOptions, serveSubgraph } from './serveSubgraph';
