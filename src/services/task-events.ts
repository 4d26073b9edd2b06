/**
 * "This task changed" signals for long-poll and SSE readers in this process. A signal carries no
 * state: readers re-read the task row, which stays the truth. On PostgreSQL the wake hub relays
 * signals between processes (pg-notify-waker.ts); readers also re-read on a slow timer.
 */
export interface TaskEvents {
  /**
   * `rowUnsent`: the write kept the row trigger quiet (only when {@link quietWrites} said so), so
   * the row's NOTIFY to other processes is sent from here, after the commit.
   */
  publish(taskId: string, rowUnsent?: boolean): void;
  /**
   * PostgreSQL's wake hub: true while a write may keep migration 0015's row trigger quiet and
   * leave the rows channel's NOTIFY to `publish` (services/settle-task.ts). Absent: never.
   */
  quietWrites?(): boolean;
  /** Resolves at the next publish for `taskId`, after `ms`, or when `signal` aborts. */
  next(taskId: string, ms: number, signal?: AbortSignal): Promise<void>;
  /** Number of readers waiting (for metrics and tests). */
  waiting(): number;
}

export function createTaskEvents(): TaskEvents {
  const waiters = new Map<string, Set<() => void>>();
  let count = 0;
  return {
    publish(taskId) {
      const set = waiters.get(taskId);
      if (!set) return;
      waiters.delete(taskId);
      for (const wake of set) wake();
    },
    next(taskId, ms, signal) {
      return new Promise<void>((resolve) => {
        let set = waiters.get(taskId);
        if (!set) {
          set = new Set();
          waiters.set(taskId, set);
        }
        let settled = false;
        const done = () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          const s = waiters.get(taskId);
          if (s?.delete(done) && s.size === 0) waiters.delete(taskId);
          count--;
          resolve();
        };
        const timer = setTimeout(done, ms);
        signal?.addEventListener('abort', done, { once: true });
        set.add(done);
        count++;
        if (signal?.aborted) done();
      });
    },
    waiting: () => count,
  };
}
