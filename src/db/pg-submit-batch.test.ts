import { afterEach, describe, expect, it } from 'vitest';
import { DIALECTS, type TestDb } from '../../test/support/databases.js';
import { taskRow } from '../../test/support/task-rows.js';
import { budgetWindow } from '../domain/budget.js';
import { newTaskId } from '../domain/ids.js';
import { createAccount, createApiKey } from './accounts-repo.js';
import type { Db } from './connect.js';
import { findIdempotent, rememberIdempotent } from './idempotency-repo.js';
import { getBalance, ledgerTotals, placeHold } from './ledger-repo.js';
import { type BatchOutcome, batchSubmitter } from './pg-submit-batch.js';
import { insertTask, type TaskRow } from './tasks-repo.js';

const PRICE = 100_000;

/** A pending task of `accountId` at the price, as a submit writes it. */
const pendingRow = (accountId: string, id = newTaskId(2), keyId = 'k'): TaskRow =>
  taskRow({ accountId, keyId }, 2, { id, state: 'pending', price_micros: PRICE, start_time: null, attempts: 0 });

/** The per-job path submit-task.ts gives the batch for a submit that must run on its own. */
const alone = (db: Db, row: TaskRow) => async (): Promise<BatchOutcome> =>
  db.writeTx(
    async (trx) => {
      if (!(await placeHold(trx, row.account_id, row.id, Number(row.price_micros), 2))) return 'short balance' as const;
      await insertTask(trx, row);
      return 'accepted' as const;
    },
    { lane: row.account_id },
  );

/** An account with `credit` and two keys: `key`, the one a test limits, and `other`. */
async function accountWithTwoKeys(db: Db, name: string, credit: number) {
  const account = await createAccount(db, name, credit, 1);
  return { account, key: await createApiKey(db, account.id, name, 1), other: await createApiKey(db, account.id, `${name}-other`, 1) };
}

/** Every hold has its task and the running totals equal the ledger's sums. */
async function expectExact(db: Db, accountId: string, accepted: number) {
  const holds = await db.kysely.selectFrom('ledger_entries').select('task_id').where('account_id', '=', accountId).where('kind', '=', 'hold').execute();
  const tasks = await db.kysely.selectFrom('tasks').select('id').where('account_id', '=', accountId).execute();
  expect(holds).toHaveLength(accepted);
  expect(holds.map((h) => h.task_id).sort()).toEqual(tasks.map((t) => t.id).sort());
  const balance = (await getBalance(db, accountId))!;
  expect(balance.heldMicros).toBe(accepted * PRICE);
  expect(balance.availableMicros).toBeGreaterThanOrEqual(0);
  const totals = await ledgerTotals(db, accountId);
  expect({ creditMicros: balance.creditMicros, heldMicros: balance.heldMicros, capturedMicros: balance.capturedMicros }).toEqual(totals);
}

/** The set-based plain submit is PostgreSQL's (submit-task.ts): a batch decides every hold in order. */
const pgDialect = DIALECTS.find((d) => d.name === 'postgres');
// DIALECTS lists PostgreSQL only where DATABASE_URL is set (under CI=true its absence fails there).
describe.skipIf(pgDialect === undefined)('set-based plain submits (postgres; skipped: set DATABASE_URL to run them)', () => {
  const dialect = pgDialect!;
  let t: TestDb | undefined;
  afterEach(async () => {
    await t?.drop();
    t = undefined;
  });

  it('accepts in order exactly what the balance covers, and a refusal holds nothing', async () => {
    t = await dialect.open();
    const { db } = t;
    // 10.5 prices of credit: the first ten fit, the eleventh does not.
    const account = await createAccount(db, 'plain', 10.5 * PRICE, 1);
    const submit = batchSubmitter(db);
    const rows = Array.from({ length: 30 }, () => pendingRow(account.id));
    const outcomes = await Promise.all(rows.map((row) => submit(row, alone(db, row))));
    expect(outcomes).toEqual([...Array(10).fill('accepted'), ...Array(20).fill('short balance')]);
    await expectExact(db, account.id, 10);
  });

  it('keeps every account exact when many submit at once', async () => {
    t = await dialect.open();
    const { db } = t;
    const accounts = await Promise.all([0, 1, 2].map((i) => createAccount(db, `plain-${i}`, (5 + i * 7) * PRICE, 1)));
    const submit = batchSubmitter(db);
    const calls = Array.from({ length: 90 }, (_, i) => {
      const row = pendingRow(accounts[i % 3]!.id);
      return submit(row, alone(db, row));
    });
    const outcomes = await Promise.all(calls);
    for (const [i, a] of accounts.entries()) {
      const accepted = outcomes.filter((o, j) => j % 3 === i && o === 'accepted').length;
      expect(accepted).toBe(5 + i * 7);
      await expectExact(db, a.id, accepted);
    }
  });

  it('runs each submit of a batch on its own when a row fails, so the others are kept', async () => {
    t = await dialect.open();
    const { db } = t;
    const account = await createAccount(db, 'plain-dup', 100 * PRICE, 1);
    const taken = pendingRow(account.id);
    await db.writeTx((trx) => insertTask(trx, taken));
    const submit = batchSubmitter(db);
    // The seventh reuses a task id that exists: its insert breaks the primary key.
    const rows = Array.from({ length: 20 }, (_, i) => (i === 7 ? pendingRow(account.id, taken.id) : pendingRow(account.id)));
    const outcomes = await Promise.allSettled(rows.map((row) => submit(row, alone(db, row))));
    expect(outcomes.flatMap((o, i) => (o.status === 'rejected' ? [i] : []))).toEqual([7]);
    expect(outcomes.filter((o) => o.status === 'fulfilled' && o.value === 'accepted')).toHaveLength(19);
    const holds = await db.kysely.selectFrom('ledger_entries').select('task_id').where('kind', '=', 'hold').execute();
    expect(holds).toHaveLength(19);
    expect((await getBalance(db, account.id))!.heldMicros).toBe(19 * PRICE);
  });

  it("refuses past a key's unfinished-task limit, counting what is already unfinished and what the batch accepts", async () => {
    t = await dialect.open();
    const { db } = t;
    const { account, key, other } = await accountWithTwoKeys(db, 'limited', 100 * PRICE);
    // One unfinished task of the key already: a limit of 4 leaves room for 3.
    const earlier = pendingRow(account.id, newTaskId(2), key.id);
    await db.writeTx(async (trx) => {
      await placeHold(trx, account.id, earlier.id, PRICE, 2);
      await insertTask(trx, earlier);
    });
    const submit = batchSubmitter(db);
    const rows = Array.from({ length: 12 }, (_, i) => pendingRow(account.id, newTaskId(2), i % 2 === 0 ? key.id : other.id));
    const outcomes = await Promise.all(rows.map((row) => submit(row, alone(db, row), { maxUnfinished: 4 })));
    expect(outcomes.filter((o, i) => i % 2 === 0 && o === 'accepted')).toHaveLength(3);
    expect(outcomes.filter((o, i) => i % 2 === 0 && o === 'limit')).toHaveLength(3);
    expect(outcomes.filter((o, i) => i % 2 === 1 && o === 'accepted')).toHaveLength(4);
    expect(outcomes.filter((o, i) => i % 2 === 1 && o === 'limit')).toHaveLength(2);
    await expectExact(db, account.id, 1 + 3 + 4);
  });

  it('remembers Idempotency-Keys, replaces an expired record, and writes nothing for a key with a current one', async () => {
    t = await dialect.open();
    const { db } = t;
    const account = await createAccount(db, 'idem', 100 * PRICE, 1);
    const now = 10_000_000;
    const windowMs = 1_000_000;
    await db.writeTx(async (trx) => {
      await rememberIdempotent(trx, 'k', 'current', 'h', 'task-current', now - 10, now - windowMs);
      await rememberIdempotent(trx, 'k', 'expired', 'h', 'task-expired', now - windowMs - 10, now - 2 * windowMs);
    });
    // The per-job path for a submit the batch leaves to itself: a key it finds is a duplicate.
    const aloneIdem = (row: TaskRow, key: string) => async (): Promise<BatchOutcome> => {
      if (await findIdempotent(db, 'k', key, now - windowMs)) return 'duplicate';
      return db.writeTx(async (trx) => {
        await placeHold(trx, row.account_id, row.id, PRICE, 2);
        await insertTask(trx, row);
        await rememberIdempotent(trx, 'k', key, 'h', row.id, now, now - windowMs);
        return 'accepted' as const;
      });
    };
    const submit = batchSubmitter(db);
    const keys = ['current', 'expired', 'fresh', 'fresh', 'other'];
    const rows = keys.map(() => ({ ...pendingRow(account.id), create_time: now }));
    const outcomes = await Promise.all(rows.map((row, i) => submit(row, aloneIdem(row, keys[i]!), { idem: { key: keys[i]!, hash: 'h', windowMs } })));
    // The second 'fresh' waits for the first's commit, then finds its record.
    expect(outcomes).toEqual(['duplicate', 'accepted', 'accepted', 'duplicate', 'accepted']);
    const records = await db.kysely.selectFrom('idempotency_keys').select(['idem_key', 'task_id']).orderBy('idem_key').execute();
    expect(records).toEqual([
      { idem_key: 'current', task_id: 'task-current' },
      { idem_key: 'expired', task_id: rows[1]!.id },
      { idem_key: 'fresh', task_id: rows[2]!.id },
      { idem_key: 'other', task_id: rows[4]!.id },
    ]);
    await expectExact(db, account.id, 3);
  });

  it('decides again on its own what was refused after a duplicate, whose hold had been counted', async () => {
    t = await dialect.open();
    const { db } = t;
    // Room for two: the duplicate first takes one, so the third looked short until it was dropped.
    const account = await createAccount(db, 'idem-short', 2 * PRICE, 1);
    const now = 10_000_000;
    const windowMs = 1_000_000;
    await db.writeTx((trx) => rememberIdempotent(trx, 'k', 'current', 'h', 'task-current', now - 10, now - windowMs));
    const submit = batchSubmitter(db);
    const rows = [0, 1, 2].map(() => ({ ...pendingRow(account.id), create_time: now }));
    const idems = ['current', 'a', 'b'];
    const outcomes = await Promise.all(rows.map((row, i) => submit(row, alone(db, row), { idem: { key: idems[i]!, hash: 'h', windowMs } })));
    expect(outcomes).toEqual(['duplicate', 'accepted', 'accepted']);
    await expectExact(db, account.id, 2);
  });

  it("refuses past a key's budget in order, after the balance, per period, counting what the period spent", async () => {
    t = await dialect.open();
    const { db } = t;
    const { account, key, other } = await accountWithTwoKeys(db, 'budgeted', 9 * PRICE);
    const day = budgetWindow('day', Date.UTC(2026, 11, 7, 12));
    const next = budgetWindow('day', Date.UTC(2026, 11, 8, 12));
    // Today's row has one price spent already: a budget of 3.5 prices leaves room for 2 today; tomorrow's row does not exist yet.
    await db.kysely
      .insertInto('key_spend')
      .values({ key_id: key.id, period: 'day', period_start: day.start, period_end: day.end, spent_micros: PRICE })
      .execute();
    const budget = (w: { start: number; end: number }) => ({ budget: { micros: 3.5 * PRICE, period: 'day' as const, ...w } });
    const submit = batchSubmitter(db);
    const jobs = [
      ...Array.from({ length: 4 }, () => ({ row: pendingRow(account.id, newTaskId(2), key.id), extras: budget(day) })),
      ...Array.from({ length: 4 }, () => ({ row: pendingRow(account.id, newTaskId(2), key.id), extras: budget(next) })),
      // A free task spends nothing of the budget.
      { row: { ...pendingRow(account.id, newTaskId(2), key.id), price_micros: 0 }, extras: budget(day) },
      ...Array.from({ length: 4 }, () => ({ row: pendingRow(account.id, newTaskId(2), other.id), extras: {} })),
    ];
    const outcomes = await Promise.all(jobs.map(({ row, extras }) => submit(row, alone(db, row), extras)));
    // 9 prices of credit: 2 today + 3 tomorrow (each within 3.5 prices) + 4 for the other key; the balance is checked first.
    expect(outcomes).toEqual([
      'accepted',
      'accepted',
      'over budget',
      'over budget',
      'accepted',
      'accepted',
      'accepted',
      'over budget',
      'accepted',
      'accepted',
      'accepted',
      'accepted',
      'accepted',
    ]);
    const spend = await db.kysely
      .selectFrom('key_spend')
      .select(['period_start', 'spent_micros'])
      .where('key_id', '=', key.id)
      .orderBy('period_start')
      .execute();
    expect(spend.map((r) => [Number(r.period_start), Number(r.spent_micros)])).toEqual([
      [day.start, 3 * PRICE],
      [next.start, 3 * PRICE],
    ]);
    expect(await db.kysely.selectFrom('key_spend').select('key_id').where('key_id', '=', other.id).execute()).toEqual([]);
    // The free task holds nothing: 9 holds for 10 accepted tasks.
    const holds = await db.kysely.selectFrom('ledger_entries').select('task_id').where('kind', '=', 'hold').execute();
    expect(holds).toHaveLength(9);
    expect((await getBalance(db, account.id))!.availableMicros).toBe(0);
    // One more within the budget of tomorrow but beyond the balance: the balance's refusal comes first.
    const late = pendingRow(account.id, newTaskId(2), key.id);
    expect(await submit(late, alone(db, late), budget(next))).toBe('short balance');
  });
});
