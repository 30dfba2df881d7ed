import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { MemoryService } from '@somaagent/memory';
import type { ContextRetriever, RecalledPassage } from '@somaagent/ports';

/**
 * The `capsuleRecall` port on the memory domain, for capsule memory-recall steps. A run has no
 * session, so it searches the tenant's memories and those of the user who started it, and hands
 * whole items on as data (`recall`, not `retrieveContext`: no prompt-sized truncation, k up to
 * the schema's 50).
 */
export class MemoryCapsuleRecallRetriever implements ContextRetriever {
  constructor(private readonly memory: MemoryService) {}

  async retrieve(
    claims: VerifiedClaims,
    question: string,
    k: number,
  ): Promise<{ text: string; passages: RecalledPassage[] }> {
    const hits = await this.memory.recall(claims, {
      query: question,
      k,
      scopes: [{ kind: 'TENANT' }, { kind: 'USER' }],
    });
    return {
      text: hits.map((h, i) => `[${i + 1}] ${h.item.content}`).join('\n\n'),
      passages: hits.map((h, i) => ({
        marker: i + 1,
        memoryItemId: h.item.id,
        score: h.score,
        text: h.item.content,
        scope: { kind: h.item.scope_kind, id: h.item.scope_id || null },
      })),
    };
  }
}
