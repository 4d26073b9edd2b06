import type { Kysely, Selectable } from 'kysely';
import type { Db } from './connect.js';
import type { Database, TaskUpstreamTable } from './schema.js';

export type TaskUpstreamRow = Selectable<TaskUpstreamTable>;

export async function getUpstream(db: Db, taskId: string): Promise<TaskUpstreamRow | undefined> {
  return db.kysely.selectFrom('task_upstream').selectAll().where('task_id', '=', taskId).executeTakeFirst();
}

/** True while `leaseToken` still holds the processing task. */
async function holdsLease(trx: Kysely<Database>, taskId: string, leaseToken: string): Promise<boolean> {
  const row = await trx
    .selectFrom('tasks')
    .select('id')
    .where('id', '=', taskId)
    .where('state', '=', 'processing')
    .where('lease_token', '=', leaseToken)
    .executeTakeFirst();
  return row !== undefined;
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
