import { afterEach, describe, expect, it } from 'vitest';
import { DIALECTS, type TestDb } from '../../test/support/databases.js';
import { addCredit, createAccount } from './accounts-repo.js';
import { getBalance } from './ledger-repo.js';

/**
 * writeTx on every dialect, under concurrency: on SQLite concurrent transactions share one
 * commit (group-commit.ts), which must stay invisible — each behaves as if it ran alone.
 */
for (const dialect of DIALECTS) {
  describe(`writeTx under concurrency (${dialect.name})`, () => {
    let t: TestDb | undefined;
    afterEach(async () => {
      await t?.drop();
      t = undefined;
    });

    it('keeps the writes of every transaction that succeeds and none of one that throws', async () => {
      t = await dialect.open();
      const { db } = t;
      const account = await createAccount(db, 'gc', 0, 1);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) =>
          db.writeTx(async (trx) => {
            await addCredit(trx, account.id, 1_000 + i, `credit ${i}`, 2);
            if (i % 3 === 0) throw new Error(`refused ${i}`); // after writing: its write must vanish
            return i;
          }),
        ),
      );
      const kept = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
      expect(kept).toEqual(Array.from({ length: 40 }, (_, i) => i).filter((i) => i % 3 !== 0));
      outcomes.forEach((o, i) => {
        if (o.status === 'fulfilled') expect(o.value).toBe(i);
        else expect((o.reason as Error).message).toBe(`refused ${i}`);
      });
      const want = kept.reduce((sum, i) => sum + 1_000 + i, 0);
      expect((await getBalance(db, account.id))!.creditMicros).toBe(want);
      const notes = await db.kysely.selectFrom('ledger_entries').select('note').where('account_id', '=', account.id).orderBy('id').execute();
      const inOrder = kept.map((i) => `credit ${i}`);
      // SQLite runs them one after another in the order asked; PostgreSQL runs them side by side.
      if (dialect.name === 'sqlite') expect(notes.map((n) => n.note)).toEqual(inOrder);
      else expect(notes.map((n) => n.note).sort()).toEqual(inOrder.sort());
    });

    it('answers a caller only once its writes are committed (visible to another connection)', async () => {
      t = await dialect.open();
      const { db } = t;
      const account = await createAccount(db, 'gc-durable', 0, 1);
      const sqlText = db.kysely.selectFrom('balances').select('credit_micros').where('account_id', '=', '?').compile().sql;
      await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          await db.writeTx((trx) => addCredit(trx, account.id, 1, `c${i}`, 2));
          // selectOne runs on a separate read-only connection on SQLite: it sees committed data only.
          const row = await db.selectOne<{ credit_micros: number }>(sqlText, [account.id]);
          expect(Number(row!.credit_micros)).toBeGreaterThanOrEqual(1);
        }),
      );
      expect((await getBalance(db, account.id))!.creditMicros).toBe(20);
    });

    it.runIf(dialect.name === 'sqlite')('sees the writes of the transactions before it in the same batch', async () => {
      t = await dialect.open();
      const { db } = t;
      const account = await createAccount(db, 'gc-order', 0, 1);
      const seen = await Promise.all(
        Array.from({ length: 10 }, () =>
          db.writeTx(async (trx) => {
            const before = Number(
              (await trx.selectFrom('balances').select('credit_micros').where('account_id', '=', account.id).executeTakeFirstOrThrow()).credit_micros,
            );
            await addCredit(trx, account.id, 1, null, 2);
            return before;
          }),
        ),
      );
      expect([...seen].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });
  });
}
