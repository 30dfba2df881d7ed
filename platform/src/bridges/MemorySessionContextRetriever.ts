import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { MemoryService } from '@somaagent/memory';
import type { ContextRetriever, RecalledPassage } from '@somaagent/ports';

/**
 * The `sessionContext` port on the memory domain: a persona's prompt gets the tenant's, the
 * caller's and this session's memories, cut to prompt size by `retrieveContext`, with the `[n]`
 * markers the answer's citations point at. Sessions and memory never import each other.
 */
export class MemorySessionContextRetriever implements ContextRetriever {
  constructor(private readonly memory: MemoryService) {}

  async retrieve(
    claims: VerifiedClaims,
    question: string,
    k: number,
    { sessionId }: { sessionId?: string },
  ): Promise<{ text: string; passages: RecalledPassage[] }> {
    const context = await this.memory.retrieveContext(claims, {
      question,
      k,
      scopes: [
        { kind: 'TENANT' },
        { kind: 'USER' },
        ...(sessionId ? [{ kind: 'SESSION' as const, id: sessionId }] : []),
      ],
    });
    return {
      text: context.text,
      passages: context.citations.map((c) => ({ marker: c.marker, memoryItemId: c.item.id, score: c.score })),
    };
  }
}
