import type { GatewayPlugin } from '@graphql-hive/gateway-runtime';
import { type ErrorCode, httpStatusFor } from '@somaagent/errors';
import type { GraphQLError } from 'graphql';

const isCode = (value: unknown): value is ErrorCode => typeof value === 'string' && value in httpStatusFor;

/**
 * A request that produced no data at all (parse, validation, limit, authentication failures) is
 * answered with the 4xx status its error code maps to, instead of GraphQL's customary 200, so
 * HTTP clients, proxies and dashboards see a rejection as one. Partial results keep 200.
 */
export function useErrorStatus(): GatewayPlugin {
  return {
    onResultProcess({ result }) {
      if (Array.isArray(result) || !result || typeof result !== 'object' || !('errors' in result)) return;
      const { errors, data } = result as { errors?: readonly GraphQLError[]; data?: unknown };
      if (!errors?.length || (data !== undefined && data !== null)) return;
      for (const error of errors) {
        const extensions = error.extensions as Record<string, unknown> | undefined;
        const http = extensions?.http as { status?: number; spec?: boolean } | undefined;
        // Yoga marks parse/validation errors `spec: true`, which it answers with 200 under
        // `application/json`; a definite status replaces that.
        if (!extensions || (http?.status && !http.spec)) continue;
        const code = extensions.code;
        extensions.http = { status: isCode(code) ? httpStatusFor[code] : 400 };
      }
    },
  };
}

/** graphql-armor rejections carry no code of their own; this gives them ours. */
export const tagLimitRejection = (_context: unknown, error: GraphQLError) => {
  Object.assign(error.extensions as Record<string, unknown>, {
    code: 'QUERY_TOO_COMPLEX',
    http: { status: 400 },
  });
};
