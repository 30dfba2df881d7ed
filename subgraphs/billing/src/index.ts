export { BudgetAdmin, type CreateBudgetInput, MAX_LIMIT_MICROS, type UpdateBudgetInput } from './BudgetAdmin';
export {
  BudgetLedger,
  type BudgetLedgerOptions,
  DEFAULT_HOLD_TTL_SECONDS,
  MAX_HOLD_MICROS,
  USAGE_EVENT,
  USAGE_TOPIC,
} from './BudgetLedger';
export { BUDGET_PERIODS, BUDGET_SCOPES, type BudgetPeriod, type BudgetRow } from './BudgetRows';
export { BILLING_CAPABILITIES, type BillingCapability } from './capabilities';
export {
  type BillingContext,
  type BillingDeps,
  type BillingSubgraph,
  billingTypeDefs,
  createBillingSubgraph,
} from './createBillingSubgraph';
export { billingMigrations } from './migrations';
export { type BudgetModel, toBudget } from './models';
export { type BillingModuleConfig, billingModule } from './module';
