export {
  createPolicySubgraph,
  POLICY_CAPABILITIES,
  type PolicyContext,
  type PolicySubgraph,
  type PolicySubgraphDeps,
  policyTypeDefs,
} from './createPolicySubgraph';
export { type PolicyModuleConfig, policyModule } from './module';
