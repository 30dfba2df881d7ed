import type { BillingSubgraph } from '@somaagent/billing';
import type { BudgetGuard } from '@somaagent/ports';

/**
 * The `budgetGuard` port on the billing domain: its ledger of holds, for the domains that make
 * billable calls (sessions, capsules, tools) to hold a call's worst case before it and settle
 * its actual cost after, never touching the billing tables.
 */
export const billingBudgetGuard = (billing: BillingSubgraph): BudgetGuard => billing.ledger;
