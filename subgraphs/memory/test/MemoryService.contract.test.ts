import { createServer } from 'node:net';
import { OpenAICompatibleEmbeddingModel } from '@somaagent/embeddings';
import type { SqlDatabase, SqlExecutor } from '@somaagent/ports';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MemoryScopeInput } from '../src/generated/resolvers-types';
import { MemoryService, PgVectorIndex } from '../src/index';
import { adapters, claimsFor, embedder, newTenant, openMigrated } from './support';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

const GUIDE = [
  'Installing the agent. Download the release archive, unpack it and run the installer as an administrator.',
  'The installer asks for a data directory; the default is /var/lib/agent. Keep at least 2 GB free there.',
  'Configuring TLS. Put the certificate chain and the private key in the config folder and restart the service.',
  'Backups run every night at 02:00. A backup is a compressed snapshot of the data directory.',
  'Restoring a backup: stop the service, unpack the snapshot over the data directory, start the service again.',
  'Troubleshooting. If the service does not start, read the log file; error E1042 means the port is taken.',
].join('\n\n');

/** Counts every row of the memory schema across tenants (as the owner, whom the policies do not filter). */
async function rowCounts(db: SqlDatabase): Promise<Record<string, number>> {
  const owner = db as SqlDatabase & { asOwner<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> };
  return owner.asOwner(async (tx) => {
    const out: Record<string, number> = {};
    for (const t of ['collections', 'documents', 'items', 'embeddings']) {
      const { rows } = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM memory.${t}`);
      out[t] = rows[0]!.n;
    }
    return out;
  });
}

for (const adapter of adapters) {
  describe(`MemoryService contract: ${adapter.name}`, () => {
    let db: SqlDatabase;
    let memory: MemoryService;
    beforeAll(async () => {
      db = await openMigrated(adapter);
      memory = new MemoryService(db, embedder, new PgVectorIndex());
    });
    afterAll(async () => {
      await db?.[Symbol.asyncDispose]();
    });

    it('remember stores text, metadata and scope; recall finds it by meaning and by exact term', async () => {
      const alice = claimsFor(newTenant(), 'alice');
      const stored = await memory.remember(alice, {
        text: 'My favourite editor is Neovim with the Lazy plugin manager.',
        metadata: { topic: 'tools' },
      });
      expect(stored).toMatchObject({
        kind: 'MEMORY',
        scope_kind: 'USER',
        scope_id: 'alice',
        collection: 'default',
      });
      expect(stored.metadata).toEqual({ topic: 'tools' });
      await memory.remember(alice, { text: 'I am allergic to peanuts and shellfish.' });
      await memory.remember(alice, { text: 'The quarterly board meeting is on the first Monday of March.' });

      const byMeaning = await memory.recall(alice, { query: 'what food should I avoid?', k: 1 });
      expect(byMeaning[0]!.item.content).toMatch(/peanuts/);
      expect(byMeaning[0]!.similarity).toBeGreaterThan(0.2);

      const byTerm = await memory.recall(alice, { query: 'Neovim', k: 3, mode: 'KEYWORD' });
      expect(byTerm.map((h) => h.item.id)).toEqual([stored.id]);
      expect(byTerm[0]!.keywordRank).toBe(1);

      const filtered = await memory.recall(alice, {
        query: 'editor',
        k: 5,
        filter: { metadata: { topic: 'tools' } },
      });
      expect(filtered.map((h) => h.item.id)).toEqual([stored.id]);

      const collections = await memory.collections(alice);
      expect(collections.map((c) => [c.name, c.model, c.dimension])).toEqual([
        ['default', 'universal-sentence-encoder-lite', 512],
      ]);
    });

    it('ingestDocument chunks with overlap and offsets; retrieveContext cites the right chunk', async () => {
      const bob = claimsFor(newTenant(), 'bob');
      const text = GUIDE;
      const doc = await memory.ingestDocument(bob, {
        title: 'Admin guide',
        text,
        source: 'docs/admin.md',
        metadata: { product: 'agent' },
        chunkSize: 200,
        chunkOverlap: 40,
        scope: { kind: 'TENANT' },
      });
      expect(doc).toMatchObject({
        title: 'Admin guide',
        chunk_size: 200,
        chunk_overlap: 40,
        char_count: text.length,
      });
      expect(doc.chunk_count).toBeGreaterThanOrEqual(4);
      const chunks = await memory.chunks(bob, doc.id, { first: 100 });
      expect(chunks.totalCount).toBe(doc.chunk_count);
      for (const [i, e] of chunks.edges.entries()) {
        const c = e.node;
        expect(c.ordinal).toBe(i);
        expect(text.slice(c.start_offset!, c.end_offset!)).toBe(c.content);
        expect(c.content.length).toBeLessThanOrEqual(200);
        expect(c.metadata).toEqual({ product: 'agent' });
        if (i > 0) expect(c.start_offset!).toBeLessThan(chunks.edges[i - 1]!.node.end_offset!);
      }
      // Paging through chunks by cursor gives the same sequence.
      const page1 = await memory.chunks(bob, doc.id, { first: 2 });
      const page2 = await memory.chunks(bob, doc.id, { first: 2, after: page1.pageInfo.endCursor });
      expect([...page1.edges, ...page2.edges].map((e) => e.node.id)).toEqual(
        chunks.edges.slice(0, 4).map((e) => e.node.id),
      );

      const ctx = await memory.retrieveContext(bob, {
        question: 'what does error E1042 mean?',
        k: 2,
        scopes: [{ kind: 'TENANT' }],
      });
      expect(ctx.citations[0]!.item.content).toMatch(/E1042/);
      expect(ctx.citations[0]!.documentTitle).toBe('Admin guide');
      expect(ctx.text.startsWith(`[1] (Admin guide, part ${ctx.citations[0]!.item.ordinal! + 1})`)).toBe(
        true,
      );
      expect(ctx.citations.map((c) => c.marker)).toEqual([1, 2]);

      const restore = await memory.recall(bob, {
        query: 'how do I bring back data from a snapshot',
        k: 1,
        scopes: [{ kind: 'TENANT' }],
        filter: { documentIds: [doc.id] },
      });
      expect(restore[0]!.item.content).toMatch(/Restoring a backup/);

      expect(await memory.deleteDocument(bob, doc.id)).toBe(true);
      expect(await memory.deleteDocument(bob, doc.id)).toBe(false);
      expect((await memory.memories(bob, { scope: { kind: 'TENANT' } })).totalCount).toBe(0);
    });

    it('memories lists newest first with Relay cursors; forget deletes by id and by scope + filter', async () => {
      const carol = claimsFor(newTenant(), 'carol');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        ids.push(
          (
            await memory.remember(carol, {
              text: `Note number ${i} about the garden`,
              metadata: { n: i, even: i % 2 === 0 },
              scope: { kind: 'SESSION', id: 's-1' },
            })
          ).id,
        );
      }
      const scope = { kind: 'SESSION', id: 's-1' } as const;
      const p1 = await memory.memories(carol, { scope, first: 2 });
      const p2 = await memory.memories(carol, { scope, first: 2, after: p1.pageInfo.endCursor });
      const p3 = await memory.memories(carol, { scope, first: 2, after: p2.pageInfo.endCursor });
      expect([...p1.edges, ...p2.edges, ...p3.edges].map((e) => e.node.id)).toEqual([...ids].reverse());
      expect(p1.totalCount).toBe(5);
      expect(p3.pageInfo.hasNextPage).toBe(false);
      expect((await memory.memories(carol, { scope: { kind: 'SESSION', id: 's-2' } })).totalCount).toBe(0);

      expect(await memory.forget(carol, { ids: [ids[0]!] })).toBe(1);
      expect(await memory.forget(carol, { scope, metadata: { even: true } })).toBe(2);
      expect((await memory.memories(carol, { scope })).edges.map((e) => e.node.metadata.n)).toEqual([3, 1]);
      expect(await memory.forget(carol, { scope })).toBe(2);
    });

    it('bad input is a clear BAD_USER_INPUT naming the field and limit, and stores nothing', async () => {
      const dave = claimsFor(newTenant(), 'dave');
      const before = await rowCounts(db);
      const cases: [Promise<unknown>, RegExp, Record<string, unknown>][] = [
        [memory.remember(dave, { text: '   ' }), /text is empty/, { field: 'text' }],
        [
          memory.remember(dave, { text: 'x'.repeat(8001) }),
          /8001 characters; a memory holds at most 8000/,
          { field: 'text', limit: 8000 },
        ],
        [
          memory.ingestDocument(dave, { title: 'big', text: 'word '.repeat(200_001) }),
          /at most 1000000/,
          { field: 'text', limit: 1_000_000 },
        ],
        [memory.ingestDocument(dave, { title: 't', text: '' }), /text is empty/, { field: 'text' }],
        [
          memory.ingestDocument(dave, { title: 't', text: 'abc', chunkSize: 50 }),
          /chunkSize/,
          { field: 'chunkSize' },
        ],
        [
          memory.ingestDocument(dave, { title: 't', text: 'abc', chunkSize: 200, chunkOverlap: 150 }),
          /chunkOverlap/,
          { field: 'chunkOverlap' },
        ],
        [memory.recall(dave, { query: 'x', k: 0 }), /k must be an integer between 1 and 50/, { field: 'k' }],
        [memory.recall(dave, { query: 'x', k: 51 }), /between 1 and 50/, { field: 'k' }],
        [memory.recall(dave, { query: '' }), /query is empty/, { field: 'query' }],
        [memory.retrieveContext(dave, { question: 'x', k: 21 }), /between 1 and 20/, { field: 'k' }],
        [
          // A caller outside GraphQL is not held to the enum: the service checks the kind itself.
          memory.remember(dave, { text: 'hi', scope: { kind: 'TEAM' } as unknown as MemoryScopeInput }),
          /unknown scope "TEAM"; known scopes: TENANT, USER, SESSION, AGENT/,
          { field: 'scope.kind' },
        ],
        [memory.recall(dave, { query: 'x', scopes: [{ kind: 'SESSION' }] }), /SESSION scope needs an id/, {}],
        [memory.remember(dave, { text: 'hi', scope: { kind: 'TENANT', id: 'x' } }), /takes no id/, {}],
        [memory.remember(dave, { text: 'hi', metadata: [1, 2] }), /metadata must be a JSON object/, {}],
        [memory.remember(dave, { text: 'hi', collection: 'no spaces' }), /collection names/, {}],
      ];
      for (const [promise, message, extensions] of cases) {
        const error = (await promise.catch((e: unknown) => e)) as { message: string; extensions: object };
        expect(error.message).toMatch(message);
        expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', ...extensions });
      }
      await expect(
        memory.remember(dave, { text: 'hi', scope: { kind: 'USER', id: 'erin' } }),
      ).rejects.toMatchObject({
        extensions: { code: 'FORBIDDEN' },
      });
      await expect(
        memory.recall(claimsFor(newTenant(), 'x', ['memory:write']), { query: 'x' }),
      ).rejects.toMatchObject({
        extensions: { code: 'FORBIDDEN', capability: 'memory:read' },
      });
      await expect(memory.recall(null, { query: 'x' })).rejects.toMatchObject({
        extensions: { code: 'UNAUTHENTICATED' },
      });
      expect(await rowCounts(db)).toEqual(before);
    });

    it('embedding server down: UNAVAILABLE (retriable) and nothing stored, not even the collection', async () => {
      const erin = claimsFor(newTenant(), 'erin');
      const down = new MemoryService(
        db,
        new OpenAICompatibleEmbeddingModel({
          baseUrl: `http://127.0.0.1:${await closedPort()}/v1`,
          model: 'all-minilm-l6-v2',
          dimension: 384,
        }),
        new PgVectorIndex(),
      );
      const before = await rowCounts(db);
      // Started one at a time: a rejection nobody awaits yet is an unhandled rejection, and the
      // embedded model's WebAssembly runtime turns those into process crashes.
      for (const op of [
        () => down.remember(erin, { text: 'something worth keeping' }),
        () => down.ingestDocument(erin, { title: 'doc', text: GUIDE, chunkSize: 200 }),
      ]) {
        const error = (await op().catch((e: unknown) => e)) as { message: string; extensions: object };
        expect(error.extensions).toMatchObject({ code: 'UNAVAILABLE', retriable: true });
        expect(error.message).toMatch(/cannot be reached \(ECONNREFUSED\).*nothing was stored/);
      }
      expect(await rowCounts(db)).toEqual(before);
    });

    it('a collection embedded with another model or dimension is a CONFLICT naming both, before any embedding', async () => {
      const tenant = newTenant();
      const frank = claimsFor(tenant, 'frank');
      await memory.remember(frank, { text: 'stored with the 512-d embedded model' });
      const other = new MemoryService(
        db,
        // Never reached: the collection check comes first (the port is closed).
        new OpenAICompatibleEmbeddingModel({
          baseUrl: `http://127.0.0.1:${await closedPort()}/v1`,
          model: 'all-minilm-l6-v2',
          dimension: 384,
        }),
        new PgVectorIndex(),
      );
      const before = await rowCounts(db);
      for (const op of [
        () => other.remember(frank, { text: 'another' }),
        () => other.recall(frank, { query: 'model' }),
        () => other.ingestDocument(frank, { title: 'd', text: 'some text' }),
      ]) {
        const error = (await op().catch((e: unknown) => e)) as { message: string; extensions: object };
        expect(error.message).toMatch(
          /collection "default" holds 512-dimensional vectors of model "universal-sentence-encoder-lite", but this server embeds with "all-minilm-l6-v2" \(384 dimensions\)/,
        );
        expect(error.extensions).toMatchObject({
          code: 'CONFLICT',
          collectionDimension: 512,
          serverDimension: 384,
        });
      }
      expect(await rowCounts(db)).toEqual(before);
      // Another collection is free to record the other model (and fails only on the dead server).
      await expect(other.remember(frank, { text: 'x', collection: 'minilm' })).rejects.toMatchObject({
        extensions: { code: 'UNAVAILABLE' },
      });
    });

    it('the database itself refuses a vector whose dimension differs from its collection', async () => {
      const gina = claimsFor(newTenant(), 'gina');
      const item = await memory.remember(gina, { text: 'a memory with a proper 512-d vector' });
      // Read before the transaction: PGlite has one session, a nested scope would wait for ever.
      const collectionId = (await memory.collections(gina))[0]!.id;
      await expect(
        db.withScope({ tenantId: gina.tenantId }, async (tx) => {
          await tx.query(`SELECT set_config('soma.user_id', 'gina', true)`);
          await tx.query('DELETE FROM memory.embeddings WHERE item_id = $1', [item.id]);
          await new PgVectorIndex().put(tx, { id: collectionId, dimension: 384 }, [
            { itemId: item.id, vector: Array.from({ length: 384 }, () => 0.1) },
          ]);
        }),
      ).rejects.toThrow(/foreign key|violates/);
      // Rolled back: the original vector is still there and recall still finds the item.
      expect((await memory.recall(gina, { query: 'proper vector', k: 1, mode: 'VECTOR' }))[0]!.item.id).toBe(
        item.id,
      );
    });
  });
}
