import { defineSubgraphModule, type ModuleDeps } from '@somaagent/subgraph-server';
import { createPolicySubgraph, POLICY_CAPABILITIES } from './createPolicySubgraph';

/** Settings of the policy module: none (it reads the runtime's policy engine). */
export type PolicyModuleConfig = Record<string, never>;

/** Read-only view of the policy engine (modules, explain). No tables of its own. */
export const policyModule = defineSubgraphModule({
  name: 'policy',
  migrations: [],
  capabilities: POLICY_CAPABILITIES,
  provides: [],
  needs: [],
  create: async ({ runtime }: ModuleDeps<PolicyModuleConfig, never>) =>
    createPolicySubgraph({ evaluator: runtime.policyEvaluator }),
});
