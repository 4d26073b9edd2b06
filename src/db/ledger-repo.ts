import type { Kysely } from 'kysely';
import type { Db } from './connect.js';
import type { Database } from './schema.js';

export interface Balance {
  creditMicros: number;
  heldMicros: number;
  capturedMicros: number;
  availableMicros: number;
}

export async function getBalance(db: Db, accountId: string): Promise<Balance | undefined> {
  const row = await db.kysely.selectFrom('balances').selectAll().where('account_id', '=', accountId).executeTakeFirst();
  if (!row) return undefined;
  const credit = Number(row.credit_micros);
  const held = Number(row.held_micros);
  const captured = Number(row.captured_micros);
  return { creditMicros: credit, heldMicros: held, capturedMicros: captured, availableMicros: credit - held - captured };
}

/**
 * Places a hold for a task if the available balance covers it. The check and the raise are one
 * conditional UPDATE, so concurrent submits can never overdraw the account.
 */
export async function placeHold(trx: Kysely<Database>, accountId: string, taskId: string, micros: number, now: number): Promise<boolean> {
  if (micros === 0) return true;
  const res = await trx
    .updateTable('balances')
    .set((eb) => ({ held_micros: eb('held_micros', '+', micros) }))
    .where('account_id', '=', accountId)
    // Written as a chain of subtractions: Kysely does not parenthesise a nested operation, so
    // `credit - (held + captured)` would compile to `credit - held + captured`, which adds the
    // captured money back instead of taking it off.
    .where((eb) => eb(eb(eb(eb.ref('credit_micros'), '-', eb.ref('held_micros')), '-', eb.ref('captured_micros')), '>=', micros))
    .executeTakeFirst();
  if (Number(res.numUpdatedRows) === 0) return false;
  await trx
    .insertInto('ledger_entries')
    .values({ account_id: accountId, kind: 'hold', amount_micros: micros, task_id: taskId, note: null, created_at: now })
    .execute();
  return true;
}

/**
 * Settles a task's hold: `capture` on success, `release` on any failure. The unique index on
 * (task_id, kind) and the caller's compare-and-set on the task row make this happen at most once.
 */
export async function settleHold(
  trx: Kysely<Database>,
  accountId: string,
  taskId: string,
  micros: number,
  outcome: 'capture' | 'release',
  now: number,
): Promise<void> {
  if (micros === 0) return;
  await trx
    .insertInto('ledger_entries')
    .values({ account_id: accountId, kind: outcome, amount_micros: micros, task_id: taskId, note: null, created_at: now })
    .execute();
  await trx
    .updateTable('balances')
    .set((eb) =>
      outcome === 'capture'
        ? { held_micros: eb('held_micros', '-', micros), captured_micros: eb('captured_micros', '+', micros) }
        : { held_micros: eb('held_micros', '-', micros) },
    )
    .where('account_id', '=', accountId)
    .execute();
}

/** Sums the append-only ledger; used to check that the running totals never drift. */
export async function ledgerTotals(db: Db, accountId: string): Promise<Omit<Balance, 'availableMicros'>> {
  const rows = await db.kysely
    .selectFrom('ledger_entries')
    .select(['kind', (eb) => eb.fn.sum<number>('amount_micros').as('total')])
    .where('account_id', '=', accountId)
    .groupBy('kind')
    .execute();
  const t = Object.fromEntries(rows.map((r) => [r.kind, Number(r.total)])) as Record<string, number>;
  const hold = t.hold ?? 0;
  const capture = t.capture ?? 0;
  const release = t.release ?? 0;
  return { creditMicros: t.credit ?? 0, heldMicros: hold - capture - release, capturedMicros: capture };
}

export interface LedgerEntry {
  id: number;
  kind: string;
  amount_micros: number;
  task_id: string | null;
  note: string | null;
  created_at: number;
}

/** Newest first; `beforeId` is the cursor (the last id of the previous page). */
export async function listLedger(db: Db, accountId: string, opts: { beforeId?: number; limit: number }): Promise<LedgerEntry[]> {
  let q = db.kysely
    .selectFrom('ledger_entries')
    .select(['id', 'kind', 'amount_micros', 'task_id', 'note', 'created_at'])
    .where('account_id', '=', accountId)
    .orderBy('id', 'desc')
    .limit(opts.limit);
  if (opts.beforeId !== undefined) q = q.where('id', '<', opts.beforeId);
  const rows = await q.execute();
  return rows.map((r) => ({ ...r, id: Number(r.id), amount_micros: Number(r.amount_micros), created_at: Number(r.created_at) }));
}
