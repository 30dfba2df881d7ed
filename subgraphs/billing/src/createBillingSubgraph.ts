import { readFileSync } from 'node:fs';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { OutboxRelay } from '@somaagent/events';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import { toConnection } from '@somaagent/pagination';
import type { EventBus, SqlDatabase } from '@somaagent/ports';
import { type GraphQLSchema, parse } from 'graphql';
import { BudgetAdmin } from './BudgetAdmin';
import { BudgetLedger } from './BudgetLedger';
import type { Resolvers } from './generated/resolvers-types';
import { MicrosScalar } from './MicrosScalar';
import { toBudget } from './models';

export interface BillingDeps {
  db: SqlDatabase;
  /**
   * The clock holds expire and periods reset by.
   * @default () => new Date()
   */
  clock?: () => Date;
  /**
   * Where `billing.usage` events go (the runtime's bus: in process, or Kafka). Without one, usage
   * records are still written and their outbox rows wait for a relay.
   */
  events?: EventBus;
}

export interface BillingContext {
  claims: VerifiedClaims | null;
}

export interface BillingSubgraph extends AsyncDisposable {
  name: 'billing';
  schema: GraphQLSchema;
  createContext: (claims: VerifiedClaims | null) => BillingContext;
  /** The ledger, handed to other domains as the `budgetGuard` port. */
  ledger: BudgetLedger;
  budgets: BudgetAdmin;
}

export const billingTypeDefs = parse(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));

/** The billing subgraph: build it, then serve it with `serveSubgraph`. */
export async function createBillingSubgraph(deps: BillingDeps): Promise<BillingSubgraph> {
  const clock = deps.clock ?? (() => new Date());
  const relay = deps.events
    ? new OutboxRelay(deps.db, deps.events, { schema: 'billing' }).start()
    : undefined;
  const ledger = new BudgetLedger(deps.db, { clock, onUsageRecorded: () => relay?.kick() });
  const budgets = new BudgetAdmin(deps.db, clock);

  const resolvers: Resolvers = {
    Micros: MicrosScalar,
    Query: {
      budgets: async (_, args, ctx) => {
        const page = await budgets.list(ctx.claims, args);
        const now = clock();
        return toConnection(page.rows, page.first, page.total, (row) => toBudget(row, now));
      },
      budget: async (_, { id }, ctx) => toBudget(await budgets.get(ctx.claims, id), clock()),
      myBudgets: async (_, __, ctx) => {
        const now = clock();
        return (await budgets.mine(ctx.claims)).map((row) => toBudget(row, now));
      },
    },
    Mutation: {
      createBudget: async (_, { input }, ctx) => toBudget(await budgets.create(ctx.claims, input), clock()),
      updateBudget: async (_, { id, input }, ctx) =>
        toBudget(await budgets.update(ctx.claims, id, input), clock()),
      deleteBudget: async (_, { id, expectedVersion }, ctx) => ({
        id: await budgets.delete(ctx.claims, id, expectedVersion ?? null),
      }),
    },
    Budget: {
      __resolveReference: async (ref, ctx) => {
        const row = await budgets.byId(ctx.claims, ref.id);
        return row ? toBudget(row, clock()) : null;
      },
    },
  };

  const schema = buildSubgraphSchema([{ typeDefs: billingTypeDefs, resolvers: resolvers as never }]);
  return {
    name: 'billing',
    schema,
    createContext: (claims) => ({ claims }),
    ledger,
    budgets,
    async [Symbol.asyncDispose]() {
      await relay?.[Symbol.asyncDispose]();
    },
  };
}
