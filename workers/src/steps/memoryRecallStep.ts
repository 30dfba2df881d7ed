import { SomaError } from '@somaagent/errors';
import { StepInputError } from '../stepErrors';
import type { StepExecutor } from './StepExecutor';

/**
 * `memoryRecall`: searches memory through the ContextRetriever port (the composition root's
 * `capsuleRecall` bridge) as the user who started the run, and returns the items as data.
 */
export const memoryRecallStep: StepExecutor = {
  async execute(args, { deps, starter }) {
    if (!deps.retriever)
      throw new StepInputError(
        'no memory retriever is configured for capsule runs, so memory cannot be recalled',
      );
    if (!starter?.tenantId) {
      throw new StepInputError(
        'this run records no starting user (it was started before runs recorded one): memory is only recalled on behalf of the user who started the run',
      );
    }
    const query = String(args.spec.query ?? '');
    const k = Number(args.spec.k ?? 5);
    // The run acts for the user who started it, with the rights recorded at start: the memory
    // domain checks tenant and capabilities (memory:read) against these claims, not expiry.
    const claims = {
      subject: starter.subject,
      tenantId: starter.tenantId,
      roles: starter.roles,
      capabilities: starter.capabilities,
      platformAdmin: starter.platformAdmin,
      authMethod: starter.authMethod as 'password',
      issuer: starter.issuer ?? 'capsule-run',
      expiresAt: Math.floor(Date.now() / 1000) + 300,
    };
    try {
      const recalled = await deps.retriever.retrieve(claims, query, k, {});
      return {
        query,
        k,
        items: recalled.passages.map((p) => ({
          id: p.memoryItemId,
          text: p.text ?? null,
          score: p.score,
          scope: p.scope ?? null,
        })),
      };
    } catch (error) {
      // A refusal (no memory:read, a bad query or k) does not change on retry; an outage may.
      if (error instanceof SomaError && !['UNAVAILABLE', 'INTERNAL_SERVER_ERROR'].includes(error.code))
        throw new StepInputError(`memory recall refused (${error.code}): ${error.message}`);
      throw error;
    }
  },
};
