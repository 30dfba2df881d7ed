// The port lives in @somaagent/ports with every other port; re-exported for existing imports.
import { EmbeddingError } from '@somaagent/ports';

export { EmbeddingError, type EmbeddingErrorReason, type EmbeddingModel } from '@somaagent/ports';

/** Checks what an engine returned against what the adapter promised. */
export function checkVectors(
  model: { model: string; dimension: number },
  expectedCount: number,
  vectors: readonly (readonly number[])[],
): void {
  if (vectors.length !== expectedCount) {
    throw new EmbeddingError(
      'DIMENSION_MISMATCH',
      `embedding model "${model.model}" returned ${vectors.length} vectors for ${expectedCount} texts`,
    );
  }
  for (const v of vectors) {
    if (v.length !== model.dimension) {
      throw new EmbeddingError(
        'DIMENSION_MISMATCH',
        `embedding model "${model.model}" returned a ${v.length}-dimensional vector; ${model.dimension} was configured`,
      );
    }
    if (!v.every(Number.isFinite)) {
      throw new EmbeddingError(
        'DIMENSION_MISMATCH',
        `embedding model "${model.model}" returned a non-finite value`,
      );
    }
  }
}
