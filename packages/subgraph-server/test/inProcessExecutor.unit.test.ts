import { buildSubgraphSchema } from '@apollo/subgraph';
import { SomaError } from '@somaagent/errors';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import { type ExecutionResult, parse } from 'graphql';
import gql from 'graphql-tag';
import { describe, expect, it } from 'vitest';
import { createInProcessExecutor } from '../src/inProcessExecutor';

// A small real schema: who the caller is, a coded and an unexpected failure, and a subscription
// that waits for events the test pushes (as sessionEvents waits for tokens).
const waiting: { push: (n: number) => void; returned: boolean }[] = [];
const schema = buildSubgraphSchema({
  typeDefs: gql`
    type Query {
      me: String
      coded: String
      broken: String
    }
    type Subscription {
      ticks: Int
    }
  `,
  resolvers: {
    Query: {
      me: (_p: unknown, _a: unknown, ctx: { claims: VerifiedClaims | null }) =>
        ctx.claims?.subject ?? 'anonymous',
      coded: () => {
        throw new SomaError('NOT_FOUND', 'no such thing');
      },
      broken: () => {
        throw new Error('connection to 10.0.0.7:5432 refused');
      },
    },
    Subscription: {
      ticks: {
        subscribe: () => {
          const queue: number[] = [];
          let wake: (() => void) | undefined;
          const handle = {
            push: (n: number) => {
              queue.push(n);
              wake?.();
            },
            returned: false,
          };
          waiting.push(handle);
          const it: AsyncIterableIterator<{ ticks: number }> = {
            next: async () => {
              while (queue.length === 0) await new Promise<void>((r) => (wake = r));
              return { done: false, value: { ticks: queue.shift()! } };
            },
            return: async () => {
              handle.returned = true;
              return { done: true, value: undefined };
            },
            [Symbol.asyncIterator]: () => it,
          };
          return it;
        },
      },
    },
  } as never,
});
const executor = createInProcessExecutor({ name: 'test', schema, createContext: (claims) => ({ claims }) });
const claims = { subject: 'user-1', tenantId: 't-1', capabilities: [] } as unknown as VerifiedClaims;

describe('createInProcessExecutor', () => {
  it('runs the operation with the claims the router verified', async () => {
    const result = (await executor({
      document: parse('{ me }'),
      context: { somaClaims: claims },
    })) as ExecutionResult;
    expect(result.data).toEqual({ me: 'user-1' });
    const anonymous = (await executor({ document: parse('{ me }'), context: {} })) as ExecutionResult;
    expect(anonymous.data).toEqual({ me: 'anonymous' });
  });

  it('passes coded errors through and masks unexpected ones, as the HTTP subgraph does', async () => {
    const coded = (await executor({ document: parse('{ coded }') })) as ExecutionResult;
    expect(coded.errors?.[0]).toMatchObject({ message: 'no such thing', extensions: { code: 'NOT_FOUND' } });
    const broken = (await executor({ document: parse('{ broken }') })) as ExecutionResult;
    expect(broken.errors?.[0]).toEqual({
      message: 'Internal error; it has been logged',
      path: ['broken'],
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
    expect(JSON.stringify(broken)).not.toContain('10.0.0.7');
  });

  it('streams a subscription; return() ends a pending next() at once and reaches the source', async () => {
    const events = (await executor({
      document: parse('subscription { ticks }'),
      operationType: 'subscription',
    })) as AsyncIterableIterator<ExecutionResult>;
    const source = waiting.at(-1)!;
    source.push(1);
    expect((await events.next()).value).toEqual({ data: { ticks: 1 } });
    const pending = events.next(); // nothing pushed: waits
    await events.return!();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(source.returned).toBe(true);
    expect(await events.next()).toEqual({ done: true, value: undefined });
  });
});
