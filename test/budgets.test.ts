import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { budgetWindow } from '../src/domain/budget.js';
import { shiftClock, startTestService, type TestService, waitForTask } from './support/service.js';

/**
 * Budgets per key (docs/api.md, budgets): a submit past the key's budget for the UTC day or month
 * is a 402 naming the budget, exact under concurrent submits like the balance hold. Runs on
 * SQLite, and on PostgreSQL with LONGSHOT_TEST_DATABASE=postgres and DATABASE_URL.
 */
let t: TestService;
let admin: string;
let time: { offset: number };
beforeAll(async () => {
  t = await startTestService();
  admin = t.service.firstAdminToken!;
  time = shiftClock(t);
});
afterAll(() => t?.close());

const GEN = '/api/v1/generateTask/veo-3-1';
const fast = { input: { prompt: 'a lighthouse in the fog', mode: 'fast' } }; // $0.20
const failing = {
  input: { prompt: 'from two frames', mode: 'fast', generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO', image_urls: ['http://127.0.0.1:9/a.png'] },
};

const adm = (method: string, path: string, body?: unknown) => t.api(method, `/admin/v1${path}`, { key: admin, ...(body === undefined ? {} : { body }) });

/** A new account with plenty of credit and one key with these settings (through the admin API). */
async function budgetedKey(account: string, settings: Record<string, unknown>): Promise<{ id: string; key: string }> {
  expect((await adm('POST', '/accounts', { name: account, creditUsd: 100 })).status).toBe(200);
  const r = await adm('POST', '/keys', { account, ...settings });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return { id: r.body.data.id, key: r.body.data.key };
}

const spentUsd = async (account: string) => (await adm('GET', `/keys?account=${account}`)).body.data.keys[0].budgetSpentUsd;

describe('key budgets', () => {
  it('gives a failed task’s price back to the budget, and counts a success as spent', async () => {
    const { key } = await budgetedKey('refund', { budgetUsd: 0.4 });
    const bad = await t.api('POST', GEN, { key, body: failing });
    expect(bad.status).toBe(200);
    expect((await waitForTask(t, 'veo-3-1', bad.body.data.taskId, key)).failCode).toBe('INVALID_IMAGE_URL');
    expect(await spentUsd('refund')).toBe(0);
    // The whole budget is there again: two more fit, the third does not.
    const goods = [await t.api('POST', GEN, { key, body: fast }), await t.api('POST', GEN, { key, body: fast })];
    expect(goods.map((g) => g.status)).toEqual([200, 200]);
    expect((await t.api('POST', GEN, { key, body: fast })).status).toBe(402);
    expect((await waitForTask(t, 'veo-3-1', goods[0]!.body.data.taskId, key)).state).toBe('success');
    expect(await spentUsd('refund')).toBe(0.4); // a success is captured: still spent
    expect((await t.api('POST', GEN, { key, body: fast })).status).toBe(402);
  });

  it('accepts exactly as many concurrent submits as fit the budget; the rest are 402 naming it', async () => {
    const { id, key } = await budgetedKey('burst', { budgetUsd: 1, budgetPeriod: 'day' });
    const answers = await Promise.all(Array.from({ length: 20 }, () => t.api('POST', GEN, { key, body: fast })));
    const codes = answers.map((a) => a.status).sort();
    expect(codes.filter((c) => c === 200)).toHaveLength(5);
    expect(codes.filter((c) => c === 402)).toHaveLength(15);
    const refusal = answers.find((a) => a.status === 402)!.body;
    const { start, end } = budgetWindow('day', t.service.deps.clock.now());
    expect(refusal).toMatchObject({
      code: 402,
      message: 'Insufficient balance',
      data: {
        failCode: 'INSUFFICIENT_BALANCE',
        required: 0.2,
        budget: { keyId: id, limit: 1, period: 'day', spent: 1, periodStart: start, resetTime: end },
      },
    });
    expect(refusal.data.error).toMatch(/budget of \$1\.00 per day would be exceeded \(\$1\.00 spent or held/);
    // The account had plenty: only the budget refused, and only the accepted tasks hold money.
    const account = (await adm('GET', '/accounts/burst')).body.data;
    expect(account.heldUsd + account.capturedUsd).toBeCloseTo(1, 6);
    expect(await spentUsd('burst')).toBe(1);
  });

  it('renews at the next UTC day (and month), without touching another period', async () => {
    const { key } = await budgetedKey('daily', { budgetUsd: 0.4, budgetPeriod: 'day' });
    const { key: monthly } = await budgetedKey('monthly', { budgetUsd: 0.2, budgetPeriod: 'month' });
    try {
      for (const k of [key, key]) expect((await t.api('POST', GEN, { key: k, body: fast })).status).toBe(200);
      expect((await t.api('POST', GEN, { key: monthly, body: fast })).status).toBe(200);
      expect((await t.api('POST', GEN, { key, body: fast })).status).toBe(402);
      expect((await t.api('POST', GEN, { key: monthly, body: fast })).status).toBe(402);

      const now = Date.now();
      time.offset = budgetWindow('day', now).end - now + 1000; // a second into the next UTC day
      const after = await t.api('POST', GEN, { key, body: fast });
      expect(after.status, JSON.stringify(after.body)).toBe(200);
      expect((await t.api('POST', GEN, { key, body: fast })).status).toBe(200);
      const again = await t.api('POST', GEN, { key, body: fast });
      expect(again.status).toBe(402);
      expect(again.body.data.budget.periodStart).toBe(budgetWindow('day', now).end);

      time.offset = budgetWindow('month', now).end - now + 1000; // the next UTC month
      expect((await t.api('POST', GEN, { key: monthly, body: fast })).status).toBe(200);
      expect((await t.api('POST', GEN, { key: monthly, body: fast })).status).toBe(402);
    } finally {
      time.offset = 0;
    }
  });

  it('a budget set later counts what the period already holds or captured', async () => {
    const { id, key } = await budgetedKey('later', {});
    for (let i = 0; i < 3; i++) expect((await t.api('POST', GEN, { key, body: fast })).status).toBe(200);
    expect(await spentUsd('later')).toBeNull();
    // Without a budget the submit path does not touch the spend table.
    const db = t.service.deps.db.kysely;
    expect(await db.selectFrom('key_spend').select('key_id').where('key_id', '=', id).execute()).toEqual([]);
    const set = await adm('PATCH', `/keys/${id}`, { budgetUsd: 1 });
    expect(set.body.data).toMatchObject({ budgetUsd: 1, budgetPeriod: 'day', budgetSpentUsd: 0.6 });
    await new Promise((r) => setTimeout(r, 1100)); // the auth cache's life: the key's new settings apply
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await t.api('POST', GEN, { key, body: fast })).status);
    expect(codes).toEqual([200, 200, 402]);

    // 0 removes the budget: no more refusals, and no spend counted on the submit path.
    await adm('PATCH', `/keys/${id}`, { budgetUsd: 0 });
    await new Promise((r) => setTimeout(r, 1100));
    expect((await t.api('POST', GEN, { key, body: fast })).status).toBe(200);
  });

  it('keeps the spend of every budgeted key equal to its tasks that did not fail', async () => {
    const db = t.service.deps.db.kysely;
    const { start, end } = budgetWindow('day', t.service.deps.clock.now());
    const spends = await db
      .selectFrom('key_spend')
      .innerJoin('api_keys', 'api_keys.id', 'key_spend.key_id')
      .select(['key_spend.key_id', 'key_spend.spent_micros'])
      .where('api_keys.budget_micros', '>', 0)
      .where('key_spend.period', '=', 'day')
      .where('key_spend.period_start', '=', start)
      .execute();
    expect(spends.length).toBeGreaterThanOrEqual(3);
    for (const s of spends) {
      const sum = await db
        .selectFrom('tasks')
        .select((eb) => eb.fn.sum<number>('price_micros').as('total'))
        .where('api_key_id', '=', s.key_id)
        .where('state', '!=', 'failed')
        .where('create_time', '>=', start)
        .where('create_time', '<', end)
        .executeTakeFirst();
      expect({ key: s.key_id, spent: Number(s.spent_micros) }).toEqual({ key: s.key_id, spent: Number(sum?.total ?? 0) });
    }
  });
});
