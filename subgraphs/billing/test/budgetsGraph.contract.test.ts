import { randomUUID } from 'node:crypto';
import type { VerifiedClaims } from '@somaagent/internal-auth';
import type { SqlDatabase } from '@somaagent/ports';
import { graphql } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BillingSubgraph, createBillingSubgraph } from '../src/index';
import { adapters, claimsFor, manualClock, newTenant, openMigrated } from './support';

// biome-ignore lint/suspicious/noExplicitAny: GraphQL results are checked field by field
type Result = any;

const BUDGET_FIELDS = `id scope scopeId period limitMicros postedMicros heldMicros remainingMicros
  alertThresholds alertsReached periodStart resetsAt version`;

for (const adapter of adapters) {
  describe(`billing graph contract: ${adapter.name}`, () => {
    let db: SqlDatabase;
    let billing: BillingSubgraph;
    const clock = manualClock(new Date('2026-05-14T10:00:00.000Z'));
    beforeAll(async () => {
      db = await openMigrated(adapter);
      billing = await createBillingSubgraph({ db, clock: clock.now });
    });
    afterAll(async () => {
      await billing?.[Symbol.asyncDispose]();
      await db?.[Symbol.asyncDispose]();
    });

    const gql = async (
      claims: VerifiedClaims | null,
      source: string,
      variableValues?: Record<string, unknown>,
    ): Promise<Result> =>
      graphql({
        schema: billing.schema,
        source,
        variableValues,
        contextValue: billing.createContext(claims),
      });
    const codes = (result: { errors?: readonly { extensions?: { code?: unknown } }[] }) =>
      result.errors?.map((e) => e.extensions?.code);
    const create = (claims: VerifiedClaims, input: Record<string, unknown>) =>
      gql(claims, `mutation($i: CreateBudgetInput!) { createBudget(input: $i) { ${BUDGET_FIELDS} } }`, {
        i: input,
      });

    it('a tenant admin creates, reads, edits and deletes budgets; members see what applies to them', async () => {
      const tenantId = newTenant();
      const admin = claimsFor(tenantId, 'admin');
      const created = await create(admin, {
        scope: 'TENANT',
        period: 'MONTH',
        limitMicros: 50_000_000,
        alertThresholds: [90, 50, 50],
      });
      expect(created.errors).toBeUndefined();
      expect(created.data.createBudget).toMatchObject({
        scope: 'TENANT',
        scopeId: null,
        period: 'MONTH',
        limitMicros: 50_000_000,
        postedMicros: 0,
        remainingMicros: 50_000_000,
        alertThresholds: [50, 90],
        alertsReached: [],
        periodStart: '2026-05-01T00:00:00.000Z',
        resetsAt: '2026-06-01T00:00:00.000Z',
        version: 1,
      });
      const id = created.data.createBudget.id;
      const alice = await create(admin, {
        scope: 'USER',
        scopeId: 'alice',
        period: 'DAY',
        limitMicros: 2_000_000,
      });
      expect(alice.errors).toBeUndefined();
      await create(admin, { scope: 'USER', scopeId: 'bob', period: 'DAY', limitMicros: 1 });

      // Spend shows up: 60 % of the user's day held → the 50 % alert is reached.
      const held = await billing.ledger.hold({
        tenantId,
        subjects: { userId: 'alice' },
        amountMicros: 1_200_000,
        idempotencyKey: 'g1',
      });
      expect(held.ok).toBe(true);
      await gql(
        admin,
        'mutation($id: ID!) { updateBudget(id: $id, input: { expectedVersion: 1, alertThresholds: [50] }) { version } }',
        {
          id: alice.data.createBudget.id,
        },
      );
      const member = claimsFor(tenantId, 'alice', []);
      const mine = await gql(member, `{ myBudgets { ${BUDGET_FIELDS} } }`);
      expect(mine.errors).toBeUndefined();
      expect(mine.data.myBudgets).toMatchObject([
        {
          scope: 'USER',
          scopeId: 'alice',
          heldMicros: 1_200_000,
          remainingMicros: 800_000,
          alertsReached: [50],
        },
        { scope: 'TENANT', heldMicros: 1_200_000, remainingMicros: 48_800_000 },
      ]);
      // A hold past its TTL no longer counts for readers, before anything expires it for good.
      const short = await billing.ledger.hold({
        tenantId,
        subjects: { userId: 'alice' },
        amountMicros: 100_000,
        idempotencyKey: 'g2',
        ttlSeconds: 60,
      });
      expect(short.ok).toBe(true);
      expect((await gql(member, '{ myBudgets { heldMicros } }')).data.myBudgets).toEqual([
        { heldMicros: 1_300_000 },
        { heldMicros: 1_300_000 },
      ]);
      clock.advance(61_000);
      expect((await gql(member, '{ myBudgets { heldMicros } }')).data.myBudgets).toEqual([
        { heldMicros: 1_200_000 },
        { heldMicros: 1_200_000 },
      ]);
      expect(codes(await gql(member, '{ budgets { totalCount } }'))).toEqual(['FORBIDDEN']);
      expect(codes(await gql(null, '{ myBudgets { id } }'))).toEqual(['UNAUTHENTICATED']);

      // Pagination, newest first.
      const page1 = await gql(
        admin,
        '{ budgets(first: 2) { totalCount edges { node { scopeId } } pageInfo { hasNextPage endCursor } } }',
      );
      expect(page1.data.budgets).toMatchObject({ totalCount: 3, pageInfo: { hasNextPage: true } });
      expect(page1.data.budgets.edges.map((e: { node: { scopeId: string } }) => e.node.scopeId)).toEqual([
        'bob',
        'alice',
      ]);
      const page2 = await gql(
        admin,
        'query($a: String) { budgets(first: 2, after: $a) { edges { node { id } } pageInfo { hasNextPage } } }',
        {
          a: page1.data.budgets.pageInfo.endCursor,
        },
      );
      expect(page2.data.budgets).toEqual({ edges: [{ node: { id } }], pageInfo: { hasNextPage: false } });
      const users = await gql(admin, '{ budgets(scope: USER) { totalCount } }');
      expect(users.data.budgets.totalCount).toBe(2);

      const edited = await gql(
        admin,
        'mutation($id: ID!) { updateBudget(id: $id, input: { expectedVersion: 1, limitMicros: 70000000 }) { limitMicros version } }',
        { id },
      );
      expect(edited.data.updateBudget).toEqual({ limitMicros: 70_000_000, version: 2 });
      const deleted = await gql(
        admin,
        'mutation($id: ID!) { deleteBudget(id: $id, expectedVersion: 2) { id } }',
        { id },
      );
      expect(deleted.data.deleteBudget).toEqual({ id });
      expect(codes(await gql(admin, 'query($id: ID!) { budget(id: $id) { id } }', { id }))).toEqual([
        'NOT_FOUND',
      ]);
    });

    it("another tenant's budget is NOT_FOUND exactly like a missing one", async () => {
      const owner = claimsFor(newTenant(), 'admin');
      const other = claimsFor(newTenant(), 'admin');
      const { data } = await create(owner, { scope: 'TENANT', period: 'TOTAL', limitMicros: 10 });
      const theirs = data.createBudget.id;
      const missing = randomUUID();
      for (const [op, vars] of [
        ['query($id: ID!) { budget(id: $id) { id } }', {}],
        [
          'mutation($id: ID!) { updateBudget(id: $id, input: { expectedVersion: 1, limitMicros: 1 }) { id } }',
          {},
        ],
        ['mutation($id: ID!) { deleteBudget(id: $id) { id } }', {}],
      ] as const) {
        const a = await gql(other, op, { ...vars, id: theirs });
        const b = await gql(other, op, { ...vars, id: missing });
        const c = await gql(other, op, { ...vars, id: 'not-a-uuid' });
        expect(codes(a)).toEqual(['NOT_FOUND']);
        expect(a.errors[0].message.replace(theirs, 'ID')).toBe(b.errors[0].message.replace(missing, 'ID'));
        expect(codes(c)).toEqual(['NOT_FOUND']);
      }
      // Still there, unchanged, for its owner.
      const kept = await gql(owner, 'query($id: ID!) { budget(id: $id) { limitMicros version } }', {
        id: theirs,
      });
      expect(kept.data.budget).toEqual({ limitMicros: 10, version: 1 });
    });

    it('concurrent edits of one budget: one wins, the others get CONFLICT with the current version', async () => {
      const admin = claimsFor(newTenant(), 'admin');
      const { data } = await create(admin, { scope: 'TENANT', period: 'DAY', limitMicros: 100 });
      const id = data.createBudget.id;
      const edits = await Promise.all(
        [200, 300, 400, 500].map((limit) =>
          gql(
            admin,
            'mutation($id: ID!, $l: Micros!) { updateBudget(id: $id, input: { expectedVersion: 1, limitMicros: $l }) { limitMicros version } }',
            {
              id,
              l: limit,
            },
          ),
        ),
      );
      const won = edits.filter((e) => !e.errors);
      const lost = edits.filter((e) => e.errors);
      expect(won).toHaveLength(1);
      expect(won[0].data.updateBudget.version).toBe(2);
      expect(lost.map(codes)).toEqual([['CONFLICT'], ['CONFLICT'], ['CONFLICT']]);
      expect(lost[0].errors[0].extensions).toMatchObject({ field: 'expectedVersion', currentVersion: 2 });
      const now = await gql(admin, 'query($id: ID!) { budget(id: $id) { limitMicros version } }', { id });
      expect(now.data.budget).toEqual(won[0].data.updateBudget);
      // A stale delete is refused too; nothing is lost.
      expect(
        codes(
          await gql(admin, 'mutation($id: ID!) { deleteBudget(id: $id, expectedVersion: 1) { id } }', { id }),
        ),
      ).toEqual(['CONFLICT']);
      // One budget per (scope, scopeId, period).
      expect(codes(await create(admin, { scope: 'TENANT', period: 'DAY', limitMicros: 1 }))).toEqual([
        'CONFLICT',
      ]);
    });

    it('bad input gets a stable code naming the field; nothing is stored', async () => {
      const admin = claimsFor(newTenant(), 'admin');
      const cases: [Record<string, unknown>, string | undefined][] = [
        [{ scope: 'TENANT', period: 'DAY', limitMicros: -1 }, 'limitMicros'],
        [{ scope: 'TENANT', period: 'DAY', limitMicros: 1e16 }, 'limitMicros'],
        [{ scope: 'TENANT', period: 'DAY', limitMicros: 1.5 }, undefined],
        [{ scope: 'TENANT', period: 'DAY', limitMicros: '100' }, undefined],
        [{ scope: 'GALAXY', period: 'DAY', limitMicros: 1 }, undefined],
        [{ scope: 'TENANT', period: 'WEEK', limitMicros: 1 }, undefined],
        [{ scope: 'USER', period: 'DAY', limitMicros: 1 }, 'scopeId'],
        [{ scope: 'USER', scopeId: 'x'.repeat(201), period: 'DAY', limitMicros: 1 }, 'scopeId'],
        [{ scope: 'TENANT', scopeId: 'acme', period: 'DAY', limitMicros: 1 }, 'scopeId'],
        [{ scope: 'TENANT', period: 'DAY', limitMicros: 1, alertThresholds: [0] }, 'alertThresholds'],
        [{ scope: 'TENANT', period: 'DAY', limitMicros: 1, alertThresholds: [101] }, 'alertThresholds'],
      ];
      for (const [input, field] of cases) {
        const result = await create(admin, input);
        if (input.scope === 'GALAXY' || input.period === 'WEEK') {
          // Enum coercion fails before any resolver (the router's server reports it as BAD_USER_INPUT).
          expect(result.errors[0].message).toMatch(
            /Value "(GALAXY|WEEK)" does not exist in "Budget(Scope|Period)" enum/,
          );
          continue;
        }
        expect(codes(result), JSON.stringify(input)).toEqual(['BAD_USER_INPUT']);
        if (field) expect(result.errors[0].extensions.field, JSON.stringify(input)).toBe(field);
      }
      await expect(
        billing.budgets.create(admin, { scope: 'GALAXY', period: 'DAY', limitMicros: 1 }),
      ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', extensions: { field: 'scope' } });
      await expect(
        billing.budgets.create(admin, { scope: 'TENANT', period: 'WEEK', limitMicros: 1 }),
      ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', extensions: { field: 'period' } });
      const bigPage = await gql(admin, '{ budgets(first: 101) { totalCount } }');
      expect(codes(bigPage)).toEqual(['BAD_USER_INPUT']);
      expect(codes(await gql(admin, '{ budgets(after: "nope") { totalCount } }'))).toEqual([
        'BAD_USER_INPUT',
      ]);
      expect((await gql(admin, '{ budgets { totalCount } }')).data.budgets.totalCount).toBe(0);
      const readOnly = claimsFor(admin.tenantId!, 'auditor', ['billing:budgets:read']);
      expect(codes(await create(readOnly, { scope: 'TENANT', period: 'DAY', limitMicros: 1 }))).toEqual([
        'FORBIDDEN',
      ]);
    });
  });
}
