import type { BudgetGuard } from './BudgetGuard';
import type { CapsuleRunStore } from './CapsuleRunStore';
import type { ContextRetriever } from './ContextRetriever';

/**
 * Every seam between two domains, by name. A subgraph module lists the names it `provides` and
 * `needs`; the composition root (platform/) wires each one through a named bridge file
 * (platform/src/bridges/) and refuses to start when a needed port has no provider. A new seam is
 * one entry here, one bridge, and the two modules naming it.
 */
export interface CrossDomainPorts {
  /** Memory recalled into a session's prompt (tenant, user and that session's memories). */
  sessionContext: ContextRetriever;
  /** Memory recalled by capsule memory-recall steps (tenant and the starting user's memories, whole items). */
  capsuleRecall: ContextRetriever;
  /** Run-state writes of capsule runs (the capsules domain's tables), for the run workers' activities. */
  capsuleRunStore: CapsuleRunStore;
  /** Holds against every budget that applies to a billable call, settled with its actual cost (the billing domain's ledger). */
  budgetGuard: BudgetGuard;
}

export type CrossDomainPortName = keyof CrossDomainPorts;
