import { findTask } from '../db/tasks-repo.js';
import type { Caller } from './caller.js';
import type { Deps } from './deps.js';
import { settleFailure } from './settle-task.js';
import { type TaskStatus, taskStatusView } from './task-view.js';

export type CancelOutcome = { ok: true; status: TaskStatus } | { ok: false; status: 404 | 409; error: string };

/**
 * Cancels a task that no worker has taken yet: it fails with CANCELLED and its hold is released,
 * in one transaction. A task already processing or finished is left alone (409): its outcome is
 * decided by the worker, and racing it could refund work that is being paid for upstream.
 */
export async function cancelTask(deps: Deps, caller: Caller, taskId: string): Promise<CancelOutcome> {
  const task = await findTask(deps.db, caller.accountId, taskId);
  if (!task) return { ok: false, status: 404, error: `no task ${taskId}` };
  const cancelled = task.state === 'pending' && (await settleFailure(deps, task, null, 'CANCELLED', 'cancelled by the client before it started'));
  const now = await findTask(deps.db, caller.accountId, taskId);
  if (!cancelled) return { ok: false, status: 409, error: `task ${taskId} is ${now?.state ?? task.state}; only a pending task can be cancelled` };
  return { ok: true, status: taskStatusView(now!, deps.signer, deps.publicUrl, deps.clock.now(), deps.config.urlTtlMs) };
}
