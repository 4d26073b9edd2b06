import { type Kysely, sql } from 'kysely';
import type { Db } from './connect.js';
import type { Database } from './schema.js';

/**
 * Records the engine a processing task's attempt is about to start, under the caller's lease. The
 * cancel checks it in the same row (cancelTaskRow): once this is written, a cancel sees the
 * engine and refuses if it cannot stop its work; if a cancel won first, this finds the task no
 * longer processing and the engine must not start. False when the lease is lost.
 */
export async function markRunningEngine(db: Db, id: string, leaseToken: string, engine: string): Promise<boolean> {
  const res = await db.kysely
    .updateTable('tasks')
    .set({ engine })
    .where('id', '=', id)
    .where('state', '=', 'processing')
    .where('lease_token', '=', leaseToken)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** True while `leaseToken` holds the processing task: a worker woken by a task event asks this. */
export async function stillLeased(db: Db, id: string, leaseToken: string): Promise<boolean> {
  return holdsLease(db.kysely, id, leaseToken);
}

/** The same, inside a transaction (upstream-repo.ts writes only under the lease). */
export async function holdsLease(trx: Kysely<Database>, id: string, leaseToken: string): Promise<boolean> {
  const row = await trx
    .selectFrom('tasks')
    .select('id')
    .where('id', '=', id)
    .where('state', '=', 'processing')
    .where('lease_token', '=', leaseToken)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Compare-and-set to `failed` with CANCELLED, for a task that is pending, or processing on no
 * engine yet or on one of `cancellable` (engines that stop their work when aborted), and that has
 * no upstream job outstanding on any other engine (a job submitted upstream runs, and is billed,
 * whatever we do). The lease is cleared, so the worker's heartbeat and settle lose from here on.
 * False when the task is in any other state, which leaves it untouched.
 */
export async function cancelTaskRow(trx: Kysely<Database>, id: string, now: number, cancellable: readonly string[]): Promise<boolean> {
  const res = await trx
    .updateTable('tasks')
    .set({
      state: 'failed',
      complete_time: now,
      fail_code: 'CANCELLED',
      fail_msg: sql<string>`case when state = 'pending' then ${'cancelled by the client before it started'} else ${'cancelled by the client while it ran'} end`,
      lease_token: null,
      lease_expires_at: null,
    })
    .where('id', '=', id)
    .where((eb) => {
      const running = [eb('engine', 'is', null)];
      if (cancellable.length > 0) running.push(eb('engine', 'in', cancellable));
      return eb.or([eb('state', '=', 'pending'), eb.and([eb('state', '=', 'processing'), eb.or(running)])]);
    })
    .where(({ not, exists, selectFrom }) => {
      let up = selectFrom('task_upstream')
        .select('task_upstream.task_id')
        .whereRef('task_upstream.task_id', '=', 'tasks.id')
        .where('task_upstream.ref', 'is not', null);
      if (cancellable.length > 0) up = up.where('task_upstream.engine', 'not in', cancellable);
      return not(exists(up));
    })
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}
