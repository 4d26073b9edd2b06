import { findTask, findUnfinishedExtension, markTaskDeletedByRequest } from '../db/tasks-repo.js';
import type { Caller } from './caller.js';
import type { Deps } from './deps.js';
import { type TaskStatus, taskStatusView } from './task-view.js';

export type DeleteOutcome = { ok: true; status: TaskStatus } | { ok: false; status: 404 | 409; error: string };

/**
 * DELETE /api/v1/tasks/{taskId} (docs/api.md, deleting a task): removes a finished task's result
 * files and marks the task deleted; its row, state and ledger entries stay. The files go first and
 * the row is marked after, so a failure in between leaves a task whose file URLs already answer
 * 410 ("no longer stored") and a repeat of the delete finishes the job. Deleting a deleted task
 * (by request or by retention) answers it as it is: DELETE is idempotent.
 */
export async function deleteTask(deps: Deps, caller: Caller, taskId: string): Promise<DeleteOutcome> {
  const task = await findTask(deps.db, caller.accountId, taskId);
  if (!task) return { ok: false, status: 404, error: `no task ${taskId}` };
  const view = async () => {
    const now = await findTask(deps.db, caller.accountId, taskId);
    return taskStatusView(now ?? task, deps.signer, deps.publicUrl, deps.clock.now(), deps.config.urlTtlMs);
  };
  if (task.deleted_at !== null) return { ok: true, status: await view() };
  if (task.state !== 'success' && task.state !== 'failed') {
    const error = `task ${taskId} is ${task.state}; only a finished task can be deleted: cancel it first (POST /api/v1/tasks/${taskId}/cancel) or wait until it has finished`;
    return { ok: false, status: 409, error };
  }
  // An extension reads its source's video when it runs: deleting the source would fail it.
  const extension = await findUnfinishedExtension(deps.db, taskId);
  if (extension) {
    return {
      ok: false,
      status: 409,
      error: `task ${extension.id}, an extension of task ${taskId}, is ${extension.state}; delete the source once it has finished`,
    };
  }
  for (const key of [task.result_key, task.poster_key]) if (key) await deps.blobs.delete(key);
  await markTaskDeletedByRequest(deps.db, caller.accountId, taskId, deps.clock.now());
  // Long-poll and SSE readers see the deletion now, and so does this process's next status read
  // on PostgreSQL (its row cache drops the row on a task event, db/pg-task-cache.ts).
  deps.taskEvents.publish(taskId);
  return { ok: true, status: await view() };
}
