import { GraphQLError } from 'graphql';

/**
 * Errors with one of our stable codes pass as they are; anything else (including a subgraph
 * error without a code) becomes a generic INTERNAL_SERVER_ERROR: no stack, host or file names.
 */
export function maskUnexpectedError(error: unknown): Error {
  const graphqlError = error instanceof GraphQLError ? error : undefined;
  const code = graphqlError?.extensions?.code;
  if (graphqlError && typeof code === 'string' && code !== 'INTERNAL_SERVER_ERROR') return graphqlError;
  // The runtime's own protocol rejections (CSRF, batching, method) carry a 4xx but no code.
  const status = (graphqlError?.extensions?.http as { status?: number } | undefined)?.status;
  if (graphqlError && status && status >= 400 && status < 500) {
    const assigned =
      status === 403 ? 'CSRF_REJECTED' : status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_USER_INPUT';
    return new GraphQLError(graphqlError.message, {
      extensions: { ...graphqlError.extensions, code: assigned },
    });
  }
  if (
    !(
      graphqlError?.extensions?.code === 'INTERNAL_SERVER_ERROR' &&
      graphqlError.message.startsWith('Internal error')
    )
  ) {
    console.error('[router] unexpected error', error);
  }
  return new GraphQLError('Internal error; it has been logged', {
    ...(graphqlError?.path ? { path: graphqlError.path } : {}),
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  });
}
