import { httpStatusFor } from '@somaagent/errors';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Labels stay bounded: a code outside the platform's list is counted as OTHER, never as itself. */
export const codeLabel = (code: unknown): string =>
  typeof code === 'string' && code in httpStatusFor ? code : 'OTHER';

/** Router paths as labels: the known ones, everything else `other` (a scanner must not mint series). */
const ROUTE_LABELS = new Set(['/graphql', '/healthz', '/readyz', '/.well-known/jwks.json']);
export const routeLabel = (path: string): string => (ROUTE_LABELS.has(path) ? path : 'other');

export type OperationType = 'query' | 'mutation' | 'subscription';

/**
 * The process's Prometheus metrics (prom-client, text exposition format): Node's own (event-loop
 * lag, heap, RSS, GC, handles) and the platform's. One per process, shared by everything in it;
 * labels never carry ids, emails or text, only bounded sets (operation type, error code, route).
 */
export class PlatformMetrics {
  readonly registry = new Registry();
  private readonly socketCounts: (() => number)[] = [];
  private readonly readinessRuns: (() => Promise<unknown>)[] = [];

  readonly httpRequests = new Counter({
    name: 'soma_router_http_requests_total',
    help: 'HTTP requests the router answered, by route and status code.',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'soma_router_http_request_duration_seconds',
    help: 'Time from a request arriving at the router to its response finishing, by route.',
    labelNames: ['route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly operations = new Counter({
    name: 'soma_graphql_operations_total',
    help: 'GraphQL operations executed through the router, by type and outcome (OK or the first error code).',
    labelNames: ['type', 'code'] as const,
    registers: [this.registry],
  });

  readonly operationDuration = new Histogram({
    name: 'soma_graphql_operation_duration_seconds',
    help: 'Execution time of queries and mutations through the router (subgraph calls included).',
    labelNames: ['type'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly rateLimited = new Counter({
    name: 'soma_router_rate_limited_total',
    help: 'Requests and socket operations refused by a quota or rate limit, by the budget that refused.',
    labelNames: ['scope'] as const,
    registers: [this.registry],
  });

  readonly tokenRejections = new Counter({
    name: 'soma_router_token_rejections_total',
    help: 'Bearer tokens the router refused (bad signature, expired, revoked, untrusted issuer...).',
    registers: [this.registry],
  });

  readonly openSockets = new Gauge({
    name: 'soma_router_open_websockets',
    help: 'graphql-ws sockets open at the router.',
    registers: [this.registry],
    collect: (() => {
      const counts = this.socketCounts;
      return function (this: Gauge) {
        this.set(counts.reduce((n, count) => n + count(), 0));
      };
    })(),
  });

  readonly readiness = new Gauge({
    name: 'soma_readiness_check_up',
    help: 'Readiness per check, as of this scrape (the /readyz checks): 1 passed, 0 failed.',
    labelNames: ['check'] as const,
    registers: [this.registry],
    // Each scrape runs the checks (or reuses a report under a second old), so alerts on it never
    // depend on someone probing /readyz.
    collect: (() => {
      const runs = this.readinessRuns;
      return async () => {
        await Promise.all(runs.map((run) => run().catch(() => undefined)));
      };
    })(),
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** An error code as a label: one of the platform's codes, or OTHER. */
  readonly codeLabel = codeLabel;
  /** A request path as a label: the router's known routes, or `other`. */
  readonly routeLabel = routeLabel;

  /** Counts a router's open sockets into `soma_router_open_websockets` at every scrape. */
  countSockets(count: () => number): void {
    this.socketCounts.push(count);
  }

  /** Runs a router's readiness checks at every scrape; they set `soma_readiness_check_up` themselves. */
  watchReadiness(run: () => Promise<unknown>): void {
    this.readinessRuns.push(run);
  }

  /** Text for a `/metrics` response, and its content type. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
