import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../../../tests/support/platform';
import { BudgetLedger } from '../src/index';

/**
 * The worked example of docs/billing.md, through the router on real HTTP: a tenant admin sets a
 * monthly tenant budget and a daily budget for one user; the ledger (the `budgetGuard` the other
 * domains will call) holds and settles calls; the user sees what remains of their own budget.
 */
describe('billing through the router', () => {
  let t: TestPlatform;
  let admin: string;
  let tenantId: string;
  beforeAll(async () => {
    t = await startTestPlatform();
    ({ adminToken: admin, tenantId } = await t.createTenant('billing-e2e'));
  }, 120_000);
  afterAll(async () => {
    await t?.[Symbol.asyncDispose]();
  });

  it('admins manage budgets, holds count against them, users see their own remaining budget', async () => {
    const user = await t.gql(
      'mutation($i: CreateUserInput!) { createUser(input: $i) { id } }',
      { i: { email: 'ada@billing-e2e.test', displayName: 'Ada', password: 'correct horse battery staple' } },
      admin,
    );
    expect(user.errors).toBeUndefined();
    const adaId = user.data.createUser.id as string;
    const signIn = await t.gql('mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }', {
      i: {
        tenantSlug: 'billing-e2e',
        email: 'ada@billing-e2e.test',
        password: 'correct horse battery staple',
      },
    });
    expect(signIn.errors).toBeUndefined();
    const ada = signIn.data.signIn.accessToken as string;

    const create = (input: Record<string, unknown>) =>
      t.gql(
        'mutation($i: CreateBudgetInput!) { createBudget(input: $i) { id scope scopeId period limitMicros remainingMicros resetsAt version } }',
        { i: input },
        admin,
      );
    const monthly = await create({
      scope: 'TENANT',
      period: 'MONTH',
      limitMicros: 5_000_000,
      alertThresholds: [80],
    });
    expect(monthly.errors).toBeUndefined();
    expect(monthly.data.createBudget).toMatchObject({ scope: 'TENANT', limitMicros: 5_000_000, version: 1 });
    const daily = await create({ scope: 'USER', scopeId: adaId, period: 'DAY', limitMicros: 1_000_000 });
    expect(daily.errors).toBeUndefined();

    // What sessions will do around a generation: hold the worst case, settle the actual.
    const ledger = new BudgetLedger(t.db);
    const held = await ledger.hold({
      tenantId,
      subjects: { userId: adaId, personaId: 'helper' },
      amountMicros: 900_000,
      idempotencyKey: 'generation-1',
      purpose: 'session.generation',
    });
    expect(held).toMatchObject({ ok: true, hold: { state: 'OPEN', amountMicros: 900_000 } });
    const refused = await ledger.hold({
      tenantId,
      subjects: { userId: adaId },
      amountMicros: 200_000,
      idempotencyKey: 'generation-2',
    });
    expect(refused).toMatchObject({
      ok: false,
      refusal: { scope: 'USER', scopeId: adaId, remainingMicros: 100_000, requestedMicros: 200_000 },
    });
    if (!held.ok) throw new Error('refused');
    await ledger.settle({ tenantId, holdId: held.hold.holdId }, 312_500);

    const mine = await t.gql(
      '{ myBudgets { scope period limitMicros postedMicros heldMicros remainingMicros resetsAt } }',
      {},
      ada,
    );
    expect(mine.errors).toBeUndefined();
    expect(mine.data.myBudgets).toMatchObject([
      { scope: 'USER', period: 'DAY', postedMicros: 312_500, heldMicros: 0, remainingMicros: 687_500 },
      { scope: 'TENANT', period: 'MONTH', postedMicros: 312_500, remainingMicros: 4_687_500 },
    ]);

    // A member holds no billing capability: the router refuses the admin fields.
    const list = await t.gql('{ budgets { totalCount } }', {}, ada);
    expect(list.code).toBe('FORBIDDEN');
    const listed = await t.gql('{ budgets { totalCount edges { node { scope } } } }', {}, admin);
    expect(listed.data.budgets.totalCount).toBe(2);

    // Bad input: stable codes, never a 5xx.
    const negative = await create({ scope: 'TENANT', period: 'DAY', limitMicros: -1 });
    expect(negative.code).toBe('BAD_USER_INPUT');
    const unknownScope = await create({ scope: 'GALAXY', period: 'DAY', limitMicros: 1 });
    expect(unknownScope.code).toBe('BAD_USER_INPUT');
    expect(unknownScope.status).toBeLessThan(500);
    const stale = await t.gql(
      'mutation($id: ID!) { updateBudget(id: $id, input: { expectedVersion: 7, limitMicros: 1 }) { id } }',
      { id: monthly.data.createBudget.id },
      admin,
    );
    expect(stale.code).toBe('CONFLICT');

    // Another tenant's admin cannot see or change it: NOT_FOUND like a missing id.
    const other = await t.createTenant('billing-e2e-other');
    const theirs = await t.gql(
      'query($id: ID!) { budget(id: $id) { id } }',
      { id: monthly.data.createBudget.id },
      other.adminToken,
    );
    expect(theirs.code).toBe('NOT_FOUND');
  });
});
