import { stillLeased } from '../db/cancel-repo.js';
import { getTaskById, type TaskRow } from '../db/tasks-repo.js';
import { getUpstream } from '../db/upstream-repo.js';
import type { Deps } from '../services/deps.js';

/**
 * Calls `onLost` as soon as the task is no longer this worker's: a cancel (in this process or,
 * relayed by NOTIFY on PostgreSQL, in another) publishes a task event, which wakes this watcher
 * to read the row. The lease heartbeat remains the truth when a signal is lost. Returns the stop.
 */
export function watchLease(deps: Deps, taskId: string, leaseToken: string, onLost: () => void): () => void {
  const stop = new AbortController();
  void (async () => {
    while (!stop.signal.aborted) {
      await deps.taskEvents.next(taskId, deps.config.leaseMs, stop.signal);
      if (stop.signal.aborted) return;
      const held = await stillLeased(deps.db, taskId, leaseToken).catch(() => true);
      if (!held) {
        onLost();
        return;
      }
    }
  })();
  return () => stop.abort();
}

/**
 * The task timeout (LONGSHOT_TASK_TIMEOUT_SECONDS from the first start). When it passes while an
 * upstream job of the task is outstanding, the job may still finish and be billed: the engine's
 * own hard limit (LONGSHOT_UPSTREAM_HARD_LIMIT_SECONDS, poll-loop.ts) decides then, and this
 * timer waits once more, that long plus the task timeout, as a backstop. Returns the stop.
 */
export function startTaskTimer(deps: Deps, task: TaskRow, onTimeout: () => void): () => void {
  const { config } = deps;
  let timer: NodeJS.Timeout;
  let stopped = false;
  const deadline = Number(task.start_time ?? deps.clock.now()) + config.taskTimeoutMs;
  const fire = async () => {
    const upstream = await getUpstream(deps.db, task.id).catch(() => undefined);
    if (stopped) return;
    if (upstream?.ref) {
      deps.log.warn({ taskId: task.id, engine: upstream.engine }, 'task timeout passed with an upstream job outstanding; waiting for its hard limit');
      timer = setTimeout(onTimeout, config.upstream.hardLimitMs + config.taskTimeoutMs);
      return;
    }
    onTimeout();
  };
  timer = setTimeout(() => void fire(), Math.max(0, deadline - deps.clock.now()));
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/**
 * A render that finished after its task was taken from this worker stored files nobody will
 * read. They are removed only when the task ended `failed` (a cancel): another worker that now
 * owns it would write, and need, the same keys.
 */
export async function dropOrphanedResult(deps: Deps, taskId: string, keys: readonly string[]): Promise<void> {
  const now = await getTaskById(deps.db, taskId);
  if (now?.state !== 'failed') return;
  for (const key of keys) await deps.blobs.delete(key);
}
