import { defineSubgraphModule, type ModuleDeps } from '@somaagent/subgraph-server';
import { BILLING_CAPABILITIES } from './capabilities';
import { type BillingDeps, createBillingSubgraph } from './createBillingSubgraph';
import { billingMigrations } from './migrations';

/** The billing module's own settings (the database and the event bus come from the runtime). */
export type BillingModuleConfig = Omit<BillingDeps, 'db' | 'events'>;

/**
 * Budgets and the ledger of holds. Provides `budgetGuard` to the domains that make billable
 * calls (the composition root's bridge hands them its ledger); needs nothing.
 */
export const billingModule = defineSubgraphModule({
  name: 'billing',
  migrations: billingMigrations,
  capabilities: BILLING_CAPABILITIES,
  provides: ['budgetGuard'],
  needs: [],
  create: ({ runtime, config }: ModuleDeps<BillingModuleConfig, never>) =>
    createBillingSubgraph({ ...config, db: runtime.db, events: runtime.events }),
});
