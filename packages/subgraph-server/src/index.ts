export { serveSubgraph, type ServeSubgraphOptions, type RunningSubgraph } from './serveSubgraph';
