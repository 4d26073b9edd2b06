import { sql } from 'kysely';
import type { Db } from './connect.js';

/**
 * The reads behind the gauges of /metrics (src/metrics/). Each is cheap at any table size: an
 * index range (queue, outbox, a range of ledger ids) or the ledger's last id.
 */

/**
 * Tasks waiting for a worker and being rendered: two COUNTs over partial indexes, each named by
 * its literal condition (a partial index answers only a query that implies its predicate): the
 * queue index holds pending tasks (migration 0016), the lease index the rows with a lease, which
 * every processing task has (its claim sets one) and no other state keeps.
 */
export async function countQueue(db: Db): Promise<{ pending: number; processing: number }> {
  const count = (state: 'pending' | 'processing') =>
    db.kysely
      .selectFrom('tasks')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('state', '=', sql.lit(state))
      .$if(state === 'processing', (q) => q.where('lease_expires_at', 'is not', null))
      .executeTakeFirst()
      .then((r) => Number(r?.n ?? 0));
  const [pending, processing] = await Promise.all([count('pending'), count('processing')]);
  return { pending, processing };
}

/** Webhook deliveries not final yet (due now or waiting for a retry). */
export async function countWebhookBacklog(db: Db): Promise<number> {
  const row = await db.kysely
    .selectFrom('webhook_deliveries')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('state', '=', 'pending')
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** The newest ledger entry's id (0 for an empty ledger). */
export async function lastLedgerId(db: Db): Promise<number> {
  const row = await db.kysely
    .selectFrom('ledger_entries')
    .select((eb) => eb.fn.max('id').as('id'))
    .executeTakeFirst();
  return Number(row?.id ?? 0);
}

/** Captured micro-dollars per model among the ledger entries with `after < id <= upTo` (a primary-key range). */
export async function capturesByModel(db: Db, after: number, upTo: number): Promise<Array<{ model: string; micros: number }>> {
  const rows = await db.kysely
    .selectFrom('ledger_entries as l')
    .innerJoin('tasks as t', 't.id', 'l.task_id')
    .select(['t.model as model', (eb) => eb.fn.sum<number>('l.amount_micros').as('micros')])
    .where('l.id', '>', after)
    .where('l.id', '<=', upTo)
    .where('l.kind', '=', 'capture')
    .groupBy('t.model')
    .execute();
  // PostgreSQL's SUM of bigint is numeric, which pg hands over as a string.
  return rows.map((r) => ({ model: r.model, micros: Number(r.micros) }));
}
