// The port lives in @somaagent/ports with every other port; re-exported for existing imports.
export type {
  ItemFilter,
  NearestQuery,
  ScopeKey,
  VectorCollection,
  VectorEntry,
  VectorHit,
  VectorIndex,
} from '@somaagent/ports';
