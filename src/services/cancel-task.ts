import { findTask } from '../db/tasks-repo.js';
import { getUpstream } from '../db/upstream-repo.js';
import type { Caller } from './caller.js';
import type { Deps } from './deps.js';
import { settleCancel } from './settle-task.js';
import { type TaskStatus, taskStatusView } from './task-view.js';

export type CancelOutcome = { ok: true; status: TaskStatus } | { ok: false; status: 404 | 409; error: string };

/**
 * Cancels a task: it fails with CANCELLED and its hold is released, in one transaction guarded by
 * the task's state (settleCancel). A pending task can always be cancelled unless an earlier
 * attempt left an upstream job running; a processing one only while no engine has started or its
 * engine stops its work when aborted (`cancelsRunningWork`, the local engine). Elsewhere the work
 * is being paid for upstream and cannot be stopped: 409, and the task runs on. The worker running
 * the task notices at once (task event, NOTIFY across processes) or at its next heartbeat, since
 * its lease is gone, and aborts the render.
 */
export async function cancelTask(deps: Deps, caller: Caller, taskId: string): Promise<CancelOutcome> {
  const task = await findTask(deps.db, caller.accountId, taskId);
  if (!task) return { ok: false, status: 404, error: `no task ${taskId}` };
  const finished = (state: string) => ({
    ok: false as const,
    status: 409 as const,
    error: `task ${taskId} is ${state}; only a pending or processing task can be cancelled`,
  });
  if (task.state !== 'pending' && task.state !== 'processing') return finished(task.state);
  const cancellable = deps.engines
    .all()
    .filter((e) => e.capabilities.cancelsRunningWork)
    .map((e) => e.name);
  const cancelled = await settleCancel(deps, task, cancellable);
  const now = await findTask(deps.db, caller.accountId, taskId);
  if (!now) return { ok: false, status: 404, error: `no task ${taskId}` };
  if (!cancelled) {
    if (now.state !== 'pending' && now.state !== 'processing') return finished(now.state);
    const upstream = await getUpstream(deps.db, taskId);
    const engine = upstream?.ref ? upstream.engine : now.engine;
    return {
      ok: false,
      status: 409,
      error: `task ${taskId} is ${now.state} on engine ${engine ?? 'unknown'}, which cannot stop work it has started (the upstream bills it once begun); the task runs on`,
    };
  }
  return { ok: true, status: taskStatusView(now, deps.signer, deps.publicUrl, deps.clock.now(), deps.config.urlTtlMs) };
}
