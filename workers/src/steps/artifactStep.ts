import { StepInputError } from '../stepErrors';
import type { StepExecutor } from './StepExecutor';

interface StoredArtifact {
  name: string;
  objectKey: string;
  size: number;
  contentType: string;
}

/** `artifact`: writes the rendered content to object storage under the run and step; kept in capsules.artifacts. */
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
  async record(tx, args, output) {
    const a = output as StoredArtifact;
    await tx.query(
      `INSERT INTO capsules.artifacts (tenant_id, run_id, step_key, name, object_key, content_type, size)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (run_id, step_key) DO NOTHING`,
      [args.tenantId, args.runId, args.key, a.name, a.objectKey, a.contentType, a.size],
    );
  },
};
