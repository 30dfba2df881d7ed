import { billingModule } from '@somaagent/billing';
import { capsulesModule } from '@somaagent/capsules';
import { memoryModule } from '@somaagent/memory';
import type { CrossDomainPortName, CrossDomainPorts } from '@somaagent/ports';
import type { ModuleInstance, SubgraphInstance, SubgraphModule } from '@somaagent/subgraph-server';
import { billingBudgetGuard } from './BillingBudgetGuard';
import { capsulesRunStore } from './CapsulesRunStore';
import { MemoryCapsuleRecallRetriever } from './MemoryCapsuleRecallRetriever';
import { MemorySessionContextRetriever } from './MemorySessionContextRetriever';

/** How one cross-domain port is made from the instance of the module that provides it. */
export interface Bridge<K extends CrossDomainPortName> {
  /** The providing module's name (it lists the port under `provides`). */
  from: string;
  adapt(instance: SubgraphInstance): CrossDomainPorts[K];
}

// biome-ignore lint/suspicious/noExplicitAny: any module, whatever its config, instance and needs
type AnyModule = SubgraphModule<string, any, any, any>;

/** Types `adapt` by the module's own instance; the root hands it the instance that module created. */
function bridge<M extends AnyModule, K extends CrossDomainPortName>(
  module: M,
  adapt: (instance: ModuleInstance<M>) => CrossDomainPorts[K],
): Bridge<K> {
  return { from: module.name, adapt: (instance) => adapt(instance as ModuleInstance<M>) };
}

/** Every seam between domains and the adapter file that implements it. */
export const bridges: { [K in CrossDomainPortName]: Bridge<K> } = {
  sessionContext: bridge(memoryModule, (memory) => new MemorySessionContextRetriever(memory.service)),
  capsuleRecall: bridge(memoryModule, (memory) => new MemoryCapsuleRecallRetriever(memory.service)),
  capsuleRunStore: bridge(capsulesModule, capsulesRunStore),
  budgetGuard: bridge(billingModule, billingBudgetGuard),
};

export { billingBudgetGuard, capsulesRunStore, MemoryCapsuleRecallRetriever, MemorySessionContextRetriever };
