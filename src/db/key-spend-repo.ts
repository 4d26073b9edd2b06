import type { Kysely } from 'kysely';
import { type BudgetPeriod, budgetWindow } from '../domain/budget.js';
import type { Db } from './connect.js';
import type { Database } from './schema.js';

/**
 * A budgeted key's spend per period (the `key_spend` row): what its tasks hold or captured. Holds
 * raise it, releases lower it, captures leave it. The budget check is the conditional UPDATE in
 * `chargeKeySpend`, in the submit's write transaction, so concurrent submits cannot overspend a
 * key just as `placeHold` keeps them from overdrawing an account.
 */

export interface KeyBudget {
  micros: number;
  period: BudgetPeriod;
}

/**
 * Adds `micros` to the key's spend in the period containing `now` if that stays within the
 * budget; false (nothing changed) when it would not. One statement when the period's row exists
 * (every submit after the period's first); call inside a write transaction.
 */
export async function chargeKeySpend(trx: Kysely<Database>, keyId: string, budget: KeyBudget, micros: number, now: number): Promise<boolean> {
  if (micros === 0) return true;
  const { start, end } = budgetWindow(budget.period, now);
  const raise = () =>
    trx
      .updateTable('key_spend')
      .set((eb) => ({ spent_micros: eb('spent_micros', '+', micros) }))
      .where('key_id', '=', keyId)
      .where('period', '=', budget.period)
      .where('period_start', '=', start)
      .where((eb) => eb(eb('spent_micros', '+', micros), '<=', budget.micros))
      .executeTakeFirst();
  if (Number((await raise()).numUpdatedRows) > 0) return true;
  if (micros > budget.micros) return false;
  // The period's first hold. A concurrent first hold (PostgreSQL) makes the insert do nothing,
  // after waiting for it to commit; the raise is then tried again on its row.
  const inserted = await trx
    .insertInto('key_spend')
    .values({ key_id: keyId, period: budget.period, period_start: start, period_end: end, spent_micros: micros })
    .onConflict((oc) => oc.columns(['key_id', 'period', 'period_start']).doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0) return true;
  return Number((await raise()).numUpdatedRows) > 0;
}

/**
 * Gives a released task's price back to its key's spend in the period the task was held in. Every
 * release runs it: a key without a budget has no row, so it changes nothing. Call inside the
 * settling transaction, which settles a task at most once.
 */
export async function releaseKeySpend(trx: Kysely<Database>, taskId: string, micros: number): Promise<void> {
  if (micros === 0) return;
  const task = trx.selectFrom('tasks').where('id', '=', taskId);
  const created = task.select('create_time');
  await trx
    .updateTable('key_spend')
    .set((eb) => ({ spent_micros: eb('spent_micros', '-', micros) }))
    .where('key_id', '=', task.select('api_key_id'))
    .where('period_start', '<=', created)
    .where('period_end', '>', created)
    .execute();
}

/**
 * Sets the key's spend in the current period from its tasks (captured + held: every task of the
 * period that did not fail), when a budget is set or its period changes. On PostgreSQL the row is
 * locked before the tasks are summed, so a concurrent hold is either in the sum or waits for it
 * (SQLite's write lock already serialises them).
 */
export async function seedKeySpend(trx: Kysely<Database>, dialect: Db['dialect'], keyId: string, period: BudgetPeriod, now: number): Promise<void> {
  const { start, end } = budgetWindow(period, now);
  await trx
    .insertInto('key_spend')
    .values({ key_id: keyId, period, period_start: start, period_end: end, spent_micros: 0 })
    .onConflict((oc) => oc.columns(['key_id', 'period', 'period_start']).doNothing())
    .execute();
  if (dialect === 'postgres') {
    await trx
      .selectFrom('key_spend')
      .select('spent_micros')
      .where('key_id', '=', keyId)
      .where('period', '=', period)
      .where('period_start', '=', start)
      .forUpdate()
      .execute();
  }
  const sum = await trx
    .selectFrom('tasks')
    .select((eb) => eb.fn.sum<number>('price_micros').as('total'))
    .where('api_key_id', '=', keyId)
    .where('state', '!=', 'failed')
    .where('create_time', '>=', start)
    .where('create_time', '<', end)
    .executeTakeFirst();
  await trx
    .updateTable('key_spend')
    .set({ spent_micros: Number(sum?.total ?? 0) })
    .where('key_id', '=', keyId)
    .where('period', '=', period)
    .where('period_start', '=', start)
    .execute();
}

/** The key's spend so far in the period containing `now` (0 before its first hold). */
export async function keySpendNow(db: Db | Kysely<Database>, keyId: string, period: BudgetPeriod, now: number): Promise<number> {
  const k = 'kysely' in db ? db.kysely : db;
  const row = await k
    .selectFrom('key_spend')
    .select('spent_micros')
    .where('key_id', '=', keyId)
    .where('period', '=', period)
    .where('period_start', '=', budgetWindow(period, now).start)
    .executeTakeFirst();
  return Number(row?.spent_micros ?? 0);
}
