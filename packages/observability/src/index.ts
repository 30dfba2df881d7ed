export { codeLabel, type OperationType, PlatformMetrics, routeLabel } from './PlatformMetrics';
export { type MetricsServer, serveMetrics } from './serveMetrics';
