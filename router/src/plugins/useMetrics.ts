import type { GatewayPlugin } from '@graphql-hive/gateway-runtime';
import type { OperationType, PlatformMetrics } from '@somaagent/observability';
import { type DocumentNode, type GraphQLError, Kind } from 'graphql';

function operationType(document: DocumentNode, operationName: string | null | undefined): OperationType {
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    if (!operationName || definition.name?.value === operationName) return definition.operation;
  }
  return 'query';
}

/** OK, or the first error's code: what a dashboard groups outcomes by. */
function outcome(metrics: PlatformMetrics, result: unknown): string {
  const errors = (result as { errors?: readonly GraphQLError[] } | undefined)?.errors;
  return errors?.length ? metrics.codeLabel(errors[0]?.extensions?.code) : 'OK';
}

/**
 * Counts every executed operation by type and outcome, and times queries and mutations (a
 * subscription's lifetime is not a latency). Requests refused before execution (parse, limits,
 * rate limits, bad tokens) show in the HTTP counters by status instead.
 */
export function useMetrics(metrics: PlatformMetrics): GatewayPlugin {
  return {
    onExecute({ args }) {
      const type = operationType(args.document, args.operationName);
      const stop = metrics.operationDuration.startTimer({ type });
      return {
        onExecuteDone({ result }) {
          stop();
          // An incremental result (defer/stream) is counted once, by its first payload.
          metrics.operations.inc({ type, code: outcome(metrics, result) });
        },
      };
    },
    onSubscribe() {
      return {
        onSubscribeResult({ result }) {
          metrics.operations.inc({ type: 'subscription', code: outcome(metrics, result) });
        },
      };
    },
  };
}
