import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS, type TestDb } from '../../test/support/databases.js';
import { createAccount } from '../db/accounts-repo.js';
import { newTaskId } from '../domain/ids.js';
import { createCapturedTotals } from './captured.js';

/**
 * The captured-money totals of /metrics against every database: only `capture` entries count,
 * each once however often it is read, across chunks of ids, and a settle that commits after
 * higher ids were seen (PostgreSQL hands ids out before commit) is still counted.
 */
for (const dialect of DIALECTS) {
  describe(`captured totals on ${dialect.name}`, () => {
    let t: TestDb;
    let accountId = '';
    beforeAll(async () => {
      t = await dialect.open();
      accountId = (await createAccount(t.db, 'acct', 1_000_000, 1000)).id;
    });
    afterAll(() => t?.drop());

    /** A task of `model` and its ledger entry with this id (explicit ids: the test decides their order). */
    async function entry(id: number, model: string, micros: number, kind: 'capture' | 'hold' = 'capture'): Promise<void> {
      const taskId = newTaskId(Date.now());
      await t.db.writeTx(async (trx) => {
        await trx
          .insertInto('tasks')
          .values({
            id: taskId,
            account_id: accountId,
            api_key_id: 'k',
            model,
            state: 'success',
            request_type: 'async',
            provider: 'auto',
            input: '{}',
            chain_depth: 0,
            price_micros: micros,
            create_time: 0,
            attempts: 1,
            run_after: 0,
          })
          .execute();
        await trx
          .insertInto('ledger_entries')
          .values({ id, account_id: accountId, kind, amount_micros: micros, task_id: taskId, note: null, created_at: 0 })
          .execute();
      });
    }
    const of = (totals: Map<string, number>, ...models: string[]) => Object.fromEntries(models.map((m) => [m, totals.get(m) ?? 0]));

    it('sums the captures per model, each once, as the ledger grows', async () => {
      const totals = createCapturedTotals(t.db, { settleMs: 0 });
      await entry(1000, 'a1', 200_000);
      await entry(1001, 'a1', 999_000, 'hold');
      await entry(1002, 'a2', 300_000);
      expect(of(await totals.read(), 'a1', 'a2')).toEqual({ a1: 200_000, a2: 300_000 });
      expect(of(await totals.read(), 'a1', 'a2')).toEqual({ a1: 200_000, a2: 300_000 });
      await entry(1003, 'a1', 100_000);
      const [x, y] = await Promise.all([totals.read(), totals.read()]);
      expect(of(x, 'a1', 'a2')).toEqual({ a1: 300_000, a2: 300_000 });
      expect(y).toBe(x);
      // A process started now agrees.
      expect(of(await createCapturedTotals(t.db, { settleMs: 0 }).read(), 'a1', 'a2')).toEqual({ a1: 300_000, a2: 300_000 });
    });

    it('reads ids far apart in chunks', async () => {
      for (const id of [10_000, 45_000, 90_001]) await entry(id, 'b', 1);
      expect(of(await createCapturedTotals(t.db, { settleMs: 0 }).read(), 'b')).toEqual({ b: 3 });
    });

    it('counts a capture that commits below ids already seen, within the settle time', async () => {
      let clock = 0;
      const totals = createCapturedTotals(t.db, { settleMs: 60_000, now: () => clock });
      await entry(100_000, 'c', 100);
      expect(of(await totals.read(), 'c')).toEqual({ c: 100 });
      clock = 61_000; // the first read's ids are settled now and kept
      await entry(100_010, 'c', 200);
      expect(of(await totals.read(), 'c')).toEqual({ c: 300 });
      // A settle that took id 100_005 before 100_010 but committed after it was read.
      clock = 62_000;
      await entry(100_005, 'c', 400);
      expect(of(await totals.read(), 'c')).toEqual({ c: 700 });
      clock = 200_000;
      expect(of(await totals.read(), 'c')).toEqual({ c: 700 });
      expect(of(await totals.read(), 'c')).toEqual({ c: 700 });
    });
  });
}
