import type { CapsulesSubgraph } from '@somaagent/capsules';
import type { CapsuleRunStore } from '@somaagent/ports';

/**
 * The `capsuleRunStore` port on the capsules domain: its own store of run state, handed to the
 * run workers' activities, which write steps, events, artifacts and tool calls only through it
 * (never the capsules tables).
 */
export const capsulesRunStore = (capsules: CapsulesSubgraph): CapsuleRunStore => capsules.runStore;
