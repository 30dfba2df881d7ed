import type { SqlDatabase } from '@somaagent/ports';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryService, PgVectorIndex } from '../src/index';
import { adapters, claimsFor, embedder, newTenant, openMigrated, prng } from './support';

/**
 * Property-style isolation: seeded random memories and documents for 2 tenants x 3 users in every
 * scope kind, with the SAME session and agent ids reused across users and tenants (the collisions
 * a leak would need). Then every caller recalls, retrieves and lists with every scope, and each
 * answer must hold only what that caller may see: its own tenant, and for USER and SESSION
 * scopes only its own rows. Listings must also be complete.
 */

interface Stored {
  id: string;
  tenant: string;
  owner: string;
  kind: string;
  scopeId: string;
}

const TOPICS = ['invoice', 'deployment', 'holiday', 'database', 'recipe', 'contract', 'garden', 'password'];
const SCOPES = [
  { kind: 'USER' },
  { kind: 'TENANT' },
  { kind: 'SESSION', id: 'session-1' },
  { kind: 'SESSION', id: 'session-2' },
  { kind: 'AGENT', id: 'agent-1' },
] as const;

for (const adapter of adapters) {
  describe(`memory isolation across tenants and users: ${adapter.name}`, () => {
    let db: SqlDatabase;
    let memory: MemoryService;
    beforeAll(async () => {
      db = await openMigrated(adapter);
      memory = new MemoryService(db, embedder, new PgVectorIndex());
    });
    afterAll(async () => {
      await db?.[Symbol.asyncDispose]();
    });

    it('no recall, retrieveContext or listing ever returns another scope’s item (seeded, 3 rounds)', async () => {
      const tenants = [newTenant(), newTenant()];
      const users = ['ana', 'ben', 'cyd'];
      const stored: Stored[] = [];
      const next = prng(2026);
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!;

      for (const tenant of tenants) {
        for (const user of users) {
          const caller = claimsFor(tenant, user);
          for (const scope of SCOPES) {
            const topic = pick(TOPICS);
            const text = `${user} of ${tenant.slice(0, 4)} notes about the ${topic}: ${pick(TOPICS)} and ${pick(TOPICS)}`;
            const item = await memory.remember(caller, { text, scope, metadata: { topic } });
            stored.push({ id: item.id, tenant, owner: user, kind: scope.kind, scopeId: item.scope_id });
          }
          const doc = await memory.ingestDocument(caller, {
            title: `${user} handbook`,
            text: `The ${pick(TOPICS)} policy. ${'More words about it. '.repeat(20)}\n\nThe ${pick(TOPICS)} rule.`,
            chunkSize: 150,
            chunkOverlap: 30,
            scope: { kind: 'SESSION', id: 'session-1' },
          });
          const chunks = await memory.chunks(caller, doc.id, { first: 100 });
          for (const e of chunks.edges) {
            stored.push({ id: e.node.id, tenant, owner: user, kind: 'SESSION', scopeId: 'session-1' });
          }
        }
      }
      const byId = new Map(stored.map((s) => [s.id, s]));
      /** What `user` of `tenant` may see when asking for `scope`. */
      const visible = (tenant: string, user: string, scope: (typeof SCOPES)[number]) =>
        stored.filter(
          (s) =>
            s.tenant === tenant &&
            s.kind === scope.kind &&
            (scope.kind === 'USER'
              ? s.owner === user
              : scope.kind === 'SESSION'
                ? s.owner === user && s.scopeId === scope.id
                : scope.kind === 'AGENT'
                  ? s.scopeId === scope.id
                  : true),
        );

      let checks = 0;
      for (let round = 0; round < 3; round++) {
        for (const tenant of tenants) {
          for (const user of users) {
            const caller = claimsFor(tenant, user);
            const scope = pick(SCOPES);
            const allowed = new Set(visible(tenant, user, scope).map((s) => s.id));
            const query = `${pick(TOPICS)} ${pick(users)} ${pick(TOPICS)}`;
            for (const mode of ['HYBRID', 'VECTOR', 'KEYWORD'] as const) {
              const hits = await memory.recall(caller, { query, k: 50, scopes: [scope], mode });
              for (const h of hits) {
                expect(
                  allowed.has(h.item.id),
                  `${user}@${tenant} ${scope.kind} got ${JSON.stringify(byId.get(h.item.id))}`,
                ).toBe(true);
                checks++;
              }
              if (mode === 'VECTOR') expect(hits.length).toBe(Math.min(50, allowed.size));
            }
            const ctx = await memory.retrieveContext(caller, { question: query, k: 20, scopes: [...SCOPES] });
            const allowedAny = new Set(SCOPES.flatMap((s) => visible(tenant, user, s).map((x) => x.id)));
            for (const c of ctx.citations) expect(allowedAny.has(c.item.id)).toBe(true);
            const listed = await memory.memories(caller, { scope, first: 100 });
            expect(new Set(listed.edges.map((e) => e.node.id))).toEqual(allowed);
            expect(listed.totalCount).toBe(allowed.size);
            // By id: another user's private item, or another tenant's item, is not there.
            for (const s of stored
              .filter(
                (x) =>
                  x.tenant !== tenant || (x.owner !== user && (x.kind === 'USER' || x.kind === 'SESSION')),
              )
              .slice(0, 5)) {
              expect(await memory.itemById(caller, s.id)).toBeNull();
            }
            // forget by another user's ids deletes nothing.
            const foreign = stored.filter((x) => x.tenant !== tenant || x.owner !== user).map((x) => x.id);
            if (scope.kind === 'USER' || scope.kind === 'SESSION')
              expect(await memory.forget(caller, { ids: foreign.filter((id) => !allowedAny.has(id)) })).toBe(
                0,
              );
            checks++;
          }
        }
      }
      expect(checks).toBeGreaterThan(50);
    });
  });
}
