import { afterEach, describe, expect, it } from 'vitest';
import { DIALECTS, type TestDb } from '../../test/support/databases.js';
import { taskRow } from '../../test/support/task-rows.js';
import { newTaskId } from '../domain/ids.js';
import { createAccount } from './accounts-repo.js';
import type { Db } from './connect.js';
import { getBalance, ledgerTotals, placeHold } from './ledger-repo.js';
import { type PlainSubmitOutcome, plainSubmitter } from './pg-submit-batch.js';
import { insertTask, type TaskRow } from './tasks-repo.js';

const PRICE = 100_000;

/** A pending task of `accountId` at the price, as a submit writes it. */
const pendingRow = (accountId: string, id = newTaskId(2)): TaskRow =>
  taskRow({ accountId, keyId: 'k' }, 2, { id, state: 'pending', price_micros: PRICE, start_time: null, attempts: 0 });

/** The per-job path submit-task.ts gives the batch for a submit that must run on its own. */
const alone = (db: Db, row: TaskRow) => async (): Promise<PlainSubmitOutcome> =>
  db.writeTx(
    async (trx) => {
      if (!(await placeHold(trx, row.account_id, row.id, Number(row.price_micros), 2))) return 'short balance' as const;
      await insertTask(trx, row);
      return 'accepted' as const;
    },
    { lane: row.account_id },
  );

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
    const submit = plainSubmitter(db);
    const rows = Array.from({ length: 30 }, () => pendingRow(account.id));
    const outcomes = await Promise.all(rows.map((row) => submit(row, alone(db, row))));
    expect(outcomes).toEqual([...Array(10).fill('accepted'), ...Array(20).fill('short balance')]);
    await expectExact(db, account.id, 10);
  });

  it('keeps every account exact when many submit at once', async () => {
    t = await dialect.open();
    const { db } = t;
    const accounts = await Promise.all([0, 1, 2].map((i) => createAccount(db, `plain-${i}`, (5 + i * 7) * PRICE, 1)));
    const submit = plainSubmitter(db);
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
    const submit = plainSubmitter(db);
    // The seventh reuses a task id that exists: its insert breaks the primary key.
    const rows = Array.from({ length: 20 }, (_, i) => (i === 7 ? pendingRow(account.id, taken.id) : pendingRow(account.id)));
    const outcomes = await Promise.allSettled(rows.map((row) => submit(row, alone(db, row))));
    expect(outcomes.flatMap((o, i) => (o.status === 'rejected' ? [i] : []))).toEqual([7]);
    expect(outcomes.filter((o) => o.status === 'fulfilled' && o.value === 'accepted')).toHaveLength(19);
    const holds = await db.kysely.selectFrom('ledger_entries').select('task_id').where('kind', '=', 'hold').execute();
    expect(holds).toHaveLength(19);
    expect((await getBalance(db, account.id))!.heldMicros).toBe(19 * PRICE);
  });
});
