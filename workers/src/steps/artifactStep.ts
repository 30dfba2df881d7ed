import { StepInputError } from '../stepErrors';
import type { StepExecutor } from './StepExecutor';

interface StoredArtifact {
  name: string;
  objectKey: string;
  size: number;
  contentType: string;
}

/** `artifact`: writes the rendered content to object storage under the run and step; recorded as the step's artifact. */
export const artifactStep: StepExecutor = {
  async execute(args, { deps }): Promise<StoredArtifact> {
    if (!deps.storage) throw new StepInputError('no object storage is configured for artifacts');
    const name = String(args.spec.name);
    const objectKey = `tenants/${args.tenantId}/runs/${args.runId}/${args.key}/${name}`;
    const stored = await deps.storage.put(
      objectKey,
      String(args.spec.content),
      String(args.spec.contentType ?? 'text/plain; charset=utf-8'),
    );
    return { name, objectKey, size: stored.size, contentType: stored.contentType };
  },
  record(_args, output) {
    const a = output as StoredArtifact;
    return { kind: 'artifact', ...a };
  },
};
