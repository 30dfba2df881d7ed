export { type RunningSubgraph, type ServeSubgraphOptions, serveSubgraph } from './serveSubgraph';
