export {
  CLIENT_IP_EXTENSION,
  clientIpFrom,
  createInProcessExecutor,
  type InProcessSubgraphOptions,
  type SubgraphExecutionRequest,
  type SubgraphExecutor,
  type SubgraphRequestInfo,
} from './inProcessExecutor';
export { listenHttp } from './listenHttp';
export {
  defineSubgraphModule,
  type ModuleConfig,
  type ModuleDeps,
  type ModuleInstance,
  type ModuleRuntime,
  type SubgraphInstance,
  type SubgraphModule,
} from './SubgraphModule';
export { type RunningSubgraph, type ServeSubgraphOptions, serveSubgraph } from './serveSubgraph';
