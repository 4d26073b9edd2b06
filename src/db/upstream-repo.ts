import type { Selectable } from 'kysely';
import { holdsLease } from './cancel-repo.js';
import type { Db } from './connect.js';
import type { TaskUpstreamTable } from './schema.js';

export type TaskUpstreamRow = Selectable<TaskUpstreamTable>;

export async function getUpstream(db: Db, taskId: string): Promise<TaskUpstreamRow | undefined> {
  return db.kysely.selectFrom('task_upstream').selectAll().where('task_id', '=', taskId).executeTakeFirst();
}

/**
 * Writes the engine's upstream state of a task, only under the caller's lease (a stale worker
 * must not overwrite the reference of the worker that owns the task now). Returns false when
 * the lease is lost. `fields` left out keep their stored value.
 */
export async function saveUpstream(
  db: Db,
  taskId: string,
  leaseToken: string,
  engine: string,
  fields: { ref?: string | null; video?: string | null },
  now: number,
): Promise<boolean> {
  return db.writeTx(async (trx) => {
    if (!(await holdsLease(trx, taskId, leaseToken))) return false;
    await trx
      .insertInto('task_upstream')
      .values({ task_id: taskId, engine, ref: fields.ref ?? null, video: fields.video ?? null, updated_at: now })
      .onConflict((oc) =>
        oc.column('task_id').doUpdateSet({
          engine,
          updated_at: now,
          ...(fields.ref !== undefined ? { ref: fields.ref } : {}),
          ...(fields.video !== undefined ? { video: fields.video } : {}),
        }),
      )
      .execute();
    return true;
  });
}

/** An upstream job whose task failed with TIMEOUT, still to be asked whether it finished anyway. */
export interface GivenUpJob {
  task_id: string;
  engine: string;
  ref: string;
  model: string;
  input: string;
}

/**
 * Jobs given up on: the task failed with TIMEOUT at or after `endedSince` while its job reference
 * was still saved, no late outcome is known yet, and it was last asked about before `checkedBefore`.
 */
export async function findGivenUpJobs(db: Db, endedSince: number, checkedBefore: number, limit: number): Promise<GivenUpJob[]> {
  const rows = await db.kysely
    .selectFrom('task_upstream as u')
    .innerJoin('tasks as t', 't.id', 'u.task_id')
    .select(['u.task_id', 'u.engine', 'u.ref', 't.model', 't.input'])
    .where('u.ref', 'is not', null)
    .where('u.late_outcome', 'is', null)
    .where('u.updated_at', '<', checkedBefore)
    .where('t.state', '=', 'failed')
    .where('t.fail_code', '=', 'TIMEOUT')
    .where('t.complete_time', '>=', endedSince)
    .orderBy('u.updated_at')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ ...r, ref: r.ref! }));
}

/** Remembers that a given-up job was asked about now (still running, or no answer). */
export async function touchGivenUpJob(db: Db, taskId: string, now: number): Promise<void> {
  await db.kysely.updateTable('task_upstream').set({ updated_at: now }).where('task_id', '=', taskId).where('late_outcome', 'is', null).execute();
}

/** Records what a given-up job turned out to do; false when another process recorded it first. */
export async function recordLateOutcome(db: Db, taskId: string, outcome: 'completed' | 'failed', now: number): Promise<boolean> {
  const res = await db.kysely
    .updateTable('task_upstream')
    .set({ late_outcome: outcome, late_outcome_at: now, updated_at: now })
    .where('task_id', '=', taskId)
    .where('late_outcome', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}
