import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, startTestPlatform, type TestPlatform } from '../support/platform';

// The memory subgraph through the router, on the harness's PostgreSQL server (pgvector), with
// the real embedded model (Universal Sentence Encoder lite weights).
let t: TestPlatform;
let a: Awaited<ReturnType<TestPlatform['createTenant']>>;
let b: Awaited<ReturnType<TestPlatform['createTenant']>>;

const HIT = `item { id kind text metadata scope { kind id } document { title } ordinal } score similarity vectorRank keywordRank`;

beforeAll(async () => {
  t = await startTestPlatform();
  a = await t.createTenant('mem-a');
  b = await t.createTenant('mem-b');
});
afterAll(async () => {
  await t?.[Symbol.asyncDispose]();
});

describe('memory through the router', () => {
  it('remember, recall (hybrid), list, forget', async () => {
    const stored = await t.gql(
      `mutation($i: RememberInput!) { remember(input: $i) { id kind text metadata scope { kind id } collection } }`,
      { i: { text: 'The staging database password rotates every 30 days.', metadata: { source: 'ops' } } },
      a.adminToken,
    );
    expect(stored.errors).toBeUndefined();
    expect(stored.data.remember).toMatchObject({
      kind: 'MEMORY',
      metadata: { source: 'ops' },
      scope: { kind: 'USER', id: a.adminId },
      collection: 'default',
    });
    await t.gql(
      `mutation { remember(input: { text: "Lunch on Fridays is pizza.", metadata: { source: "chat" } }) { id } }`,
      {},
      a.adminToken,
    );
    const recalled = await t.gql(
      `query($i: RecallInput!) { recall(input: $i) { ${HIT} } }`,
      { i: { query: 'how often do credentials change?', k: 2 } },
      a.adminToken,
    );
    expect(recalled.errors).toBeUndefined();
    expect(recalled.data.recall[0].item.id).toBe(stored.data.remember.id);
    expect(recalled.data.recall[0].vectorRank).toBe(1);

    const listed = await t.gql(
      `{ memories(first: 1) { totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } }`,
      {},
      a.adminToken,
    );
    expect(listed.data.memories.totalCount).toBe(2);
    expect(listed.data.memories.pageInfo.hasNextPage).toBe(true);

    const forgot = await t.gql(
      `mutation($id: ID!) { forget(input: { ids: [$id] }) { deletedCount } }`,
      { id: stored.data.remember.id },
      a.adminToken,
    );
    expect(forgot.data.forget.deletedCount).toBe(1);
  });

  it('ingestDocument + retrieveContext with citations; another tenant sees none of it', async () => {
    const text = [
      'Refund policy. Customers may return any item within 45 days of delivery for a full refund.',
      'Shipping. Orders above 50 euros ship for free inside the European Union; others pay a flat fee.',
      'Warranty. Electronics carry a two-year warranty covering manufacturing defects, not accidental damage.',
    ].join('\n\n');
    const doc = await t.gql(
      `mutation($i: IngestDocumentInput!) { ingestDocument(input: $i) { id title chunkCount chunks(first: 10) { totalCount edges { node { ordinal startOffset endOffset text } } } } }`,
      { i: { title: 'Store policies', text, chunkSize: 120, chunkOverlap: 20, scope: { kind: 'TENANT' } } },
      a.adminToken,
    );
    expect(doc.errors).toBeUndefined();
    expect(doc.data.ingestDocument.chunkCount).toBeGreaterThanOrEqual(3);
    for (const { node } of doc.data.ingestDocument.chunks.edges) {
      expect(text.slice(node.startOffset, node.endOffset)).toBe(node.text);
    }
    const ctx = await t.gql(
      `query($i: RetrieveContextInput!) { retrieveContext(input: $i) { text citations { marker score item { id text document { id title } ordinal } } } }`,
      { i: { question: 'How long do I have to send something back?', k: 2, scopes: [{ kind: 'TENANT' }] } },
      a.adminToken,
    );
    expect(ctx.errors).toBeUndefined();
    const first = ctx.data.retrieveContext.citations[0];
    expect(first.marker).toBe(1);
    expect(first.item.text).toMatch(/45 days/);
    expect(first.item.document).toEqual({ id: doc.data.ingestDocument.id, title: 'Store policies' });
    expect(ctx.data.retrieveContext.text).toMatch(/^\[1\] \(Store policies, part \d+\) .*45 days/);

    const other = await t.gql(
      `query($i: RetrieveContextInput!) { retrieveContext(input: $i) { citations { marker } } }`,
      { i: { question: 'refund within 45 days', scopes: [{ kind: 'TENANT' }] } },
      b.adminToken,
    );
    expect(other.data.retrieveContext.citations).toEqual([]);
    const byId = await t.gql(
      `query($id: ID!) { memoryDocument(id: $id) { id } }`,
      { id: doc.data.ingestDocument.id },
      b.adminToken,
    );
    expect(byId.code).toBe('NOT_FOUND');
  });

  it('errors are typed: k out of range, oversized text, unknown scope; capabilities are enforced', async () => {
    const k = await t.gql(`{ recall(input: { query: "x", k: 500 }) { score } }`, {}, a.adminToken);
    expect(k.code).toBe('BAD_USER_INPUT');
    expect(k.errors![0]!.message).toMatch(/k must be an integer between 1 and 50/);
    const big = await t.gql(
      `mutation($t: String!) { remember(input: { text: $t }) { id } }`,
      { t: 'y'.repeat(9000) },
      a.adminToken,
    );
    expect(big.code).toBe('BAD_USER_INPUT');
    expect(big.errors![0]!.extensions).toMatchObject({ field: 'text', limit: 8000 });
    const scope = await t.gql(
      `{ recall(input: { query: "x", scopes: [{ kind: TEAM }] }) { score } }`,
      {},
      a.adminToken,
    );
    expect(scope.code).toBe('GRAPHQL_VALIDATION_FAILED');

    // A role with memory:read only (identity knows the memory capabilities).
    const role = await t.gql(
      `mutation { createRole(input: { name: "reader", capabilities: ["memory:read"] }) { name } }`,
      {},
      a.adminToken,
    );
    expect(role.errors).toBeUndefined();
    const user = await t.gql(
      `mutation { createUser(input: { email: "reader@mem-a.test", displayName: "Reader", password: "${ADMIN_PASSWORD}", roleNames: ["reader"] }) { id } }`,
      {},
      a.adminToken,
    );
    expect(user.errors).toBeUndefined();
    const signed = await t.gql('mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }', {
      i: { tenantSlug: 'mem-a', email: 'reader@mem-a.test', password: ADMIN_PASSWORD },
    });
    const reader = signed.data.signIn.accessToken as string;
    expect(
      (await t.gql(`{ memoryCollections { name model dimension } }`, {}, reader)).data.memoryCollections,
    ).toEqual([{ name: 'default', model: 'universal-sentence-encoder-lite', dimension: 512 }]);
    const write = await t.gql(`mutation { remember(input: { text: "nope" }) { id } }`, {}, reader);
    expect(write.code).toBe('FORBIDDEN');
    // The reader's own USER scope is empty: the admin's private memories are not theirs.
    const mine = await t.gql(
      `{ memories { totalCount } recall(input: { query: "pizza" }) { score } }`,
      {},
      reader,
    );
    expect(mine.data).toEqual({ memories: { totalCount: 0 }, recall: [] });
  });
});
