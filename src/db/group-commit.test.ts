import type { Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { DIALECTS, type TestDb } from '../../test/support/databases.js';
import { addCredit, createAccount } from './accounts-repo.js';
import { getBalance } from './ledger-repo.js';
import type { Database } from './schema.js';

/** A ledger entry of kind `hold`: (task_id, kind) is unique, so a second one for a task fails. */
const holdEntry = (trx: Kysely<Database>, accountId: string, taskId: string) =>
  trx.insertInto('ledger_entries').values({ account_id: accountId, kind: 'hold', amount_micros: 1, task_id: taskId, note: null, created_at: 2 }).execute();

/**
 * writeTx on every dialect, under concurrency: concurrent transactions share one commit
 * (group-commit.ts: on SQLite all of them, on PostgreSQL those of one lane — `lane`, the account
 * on submits), which must stay invisible — each behaves as if it ran alone.
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
          db.writeTx(
            async (trx) => {
              await addCredit(trx, account.id, 1_000 + i, `credit ${i}`, 2);
              if (i % 3 === 0) throw new Error(`refused ${i}`); // after writing: its write must vanish
              return i;
            },
            { lane: account.id },
          ),
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
      // One lane runs them one after another in the order asked.
      expect(notes.map((n) => n.note)).toEqual(kept.map((i) => `credit ${i}`));
    });

    it('answers a caller only once its writes are committed (visible to another connection)', async () => {
      t = await dialect.open();
      const { db } = t;
      const account = await createAccount(db, 'gc-durable', 0, 1);
      const sqlText = db.kysely.selectFrom('balances').select('credit_micros').where('account_id', '=', '?').compile().sql;
      await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          await db.writeTx((trx) => addCredit(trx, account.id, 1, `c${i}`, 2), { lane: account.id });
          // selectOne runs on a separate read-only connection on SQLite: it sees committed data only.
          const row = await db.selectOne<{ credit_micros: number }>(sqlText, [account.id]);
          expect(Number(row!.credit_micros)).toBeGreaterThanOrEqual(1);
        }),
      );
      expect((await getBalance(db, account.id))!.creditMicros).toBe(20);
    });

    it('sees the writes of the transactions before it in the same batch', async () => {
      t = await dialect.open();
      const { db } = t;
      const account = await createAccount(db, 'gc-order', 0, 1);
      const seen = await Promise.all(
        Array.from({ length: 10 }, () =>
          db.writeTx(
            async (trx) => {
              const before = Number(
                (await trx.selectFrom('balances').select('credit_micros').where('account_id', '=', account.id).executeTakeFirstOrThrow()).credit_micros,
              );
              await addCredit(trx, account.id, 1, null, 2);
              return before;
            },
            { lane: account.id },
          ),
        ),
      );
      expect([...seen].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });

    it('keeps the others when a statement of one transaction fails (a unique violation)', async () => {
      t = await dialect.open();
      const { db } = t;
      const account = await createAccount(db, 'gc-unique', 0, 1);
      // Every tenth writes a hold for the same task: the first wins, the others break the unique index.
      const outcomes = await Promise.allSettled(
        Array.from({ length: 30 }, (_, i) =>
          db.writeTx(
            async (trx) => {
              await addCredit(trx, account.id, 1_000 + i, `credit ${i}`, 2);
              await holdEntry(trx, account.id, i % 10 === 0 ? 'same-task' : `task-${i}`);
              return i;
            },
            { lane: account.id },
          ),
        ),
      );
      const failed = outcomes.flatMap((o, i) => (o.status === 'rejected' ? [i] : []));
      expect(failed).toEqual([10, 20]);
      const kept = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
      expect((await getBalance(db, account.id))!.creditMicros).toBe(kept.reduce((sum, i) => sum + 1_000 + i, 0));
      const holds = await db.kysely.selectFrom('ledger_entries').select('task_id').where('kind', '=', 'hold').where('account_id', '=', account.id).execute();
      expect(holds).toHaveLength(28);
    });

    it('cannot commit the others when a transaction goes on after its own failed statement', async () => {
      t = await dialect.open();
      const { db } = t;
      const account = await createAccount(db, 'gc-swallow', 0, 1);
      await db.writeTx((trx) => holdEntry(trx, account.id, 'taken'));
      // Job 5 swallows a unique violation and writes on; job 19, the last, swallows one and stops.
      const outcomes = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          db.writeTx(
            async (trx) => {
              await addCredit(trx, account.id, 1_000 + i, `credit ${i}`, 2);
              if (i === 5 || i === 19) await holdEntry(trx, account.id, 'taken').catch(() => undefined);
              if (i === 5) await addCredit(trx, account.id, 7, 'after the failure', 2);
              return i;
            },
            { lane: account.id },
          ),
        ),
      );
      // SQLite goes on after a failed statement; PostgreSQL has aborted the transaction, so the
      // swallowing transactions fail, and only they.
      const swallowers = dialect.name === 'sqlite' ? [] : [5, 19];
      expect(outcomes.flatMap((o, i) => (o.status === 'rejected' ? [i] : []))).toEqual(swallowers);
      const kept = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
      const extra = swallowers.includes(5) ? 0 : 7;
      expect((await getBalance(db, account.id))!.creditMicros).toBe(kept.reduce((sum, i) => sum + 1_000 + i, 0) + extra);
    });

    it('keeps every account exact across lanes, also when transactions deadlock (locking two accounts in opposite orders)', async () => {
      t = await dialect.open();
      const { db } = t;
      const accounts = await Promise.all(Array.from({ length: 6 }, (_, i) => createAccount(db, `gc-lane-${i}`, 0, 1)));
      const want = new Map(accounts.map((a) => [a.id, 0]));
      const outcomes = await Promise.allSettled(
        Array.from({ length: 60 }, (_, i) => {
          const own = accounts[i % 6]!;
          // Every third also credits an account of another lane, which may take the two rows the other way round.
          const other = i % 3 === 0 ? accounts[(i + 1) % 6]! : null;
          return db.writeTx(
            async (trx) => {
              await addCredit(trx, own.id, 10, null, 2);
              if (other) await addCredit(trx, other.id, 1, null, 2);
              if (i % 7 === 0) throw new Error('refused');
              return { own, other };
            },
            { lane: own.id },
          );
        }),
      );
      for (const o of outcomes) {
        if (o.status === 'rejected') {
          // A deadlock PostgreSQL broke fails its transaction as it would fail a transaction of its own.
          expect(['refused', 'deadlock detected']).toContain((o.reason as Error).message);
          continue;
        }
        want.set(o.value.own.id, want.get(o.value.own.id)! + 10);
        if (o.value.other) want.set(o.value.other.id, want.get(o.value.other.id)! + 1);
      }
      expect(outcomes.filter((o) => o.status === 'fulfilled').length).toBeGreaterThan(0);
      for (const a of accounts) expect((await getBalance(db, a.id))!.creditMicros).toBe(want.get(a.id));
    });
  });
}
