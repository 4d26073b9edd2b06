import { randomUUID } from 'node:crypto';
import { claimNextTask } from '../db/claim-task.js';
import { renewLease, requeue, type TaskRow } from '../db/tasks-repo.js';
import type { Deps } from '../services/deps.js';
import { type RunResult, runTask } from '../services/run-task.js';
import { settleFailure, settleSuccess } from '../services/settle-task.js';
import { dropOrphanedResult, startTaskTimer, watchLease } from './run-watch.js';
import type { Waker } from './waker.js';

export interface WorkerPool {
  start(): void;
  /** Stops claiming, interrupts running renders and hands their tasks back to the queue. */
  stop(): Promise<void>;
}

type StopReason = 'shutdown' | 'timeout' | 'lease-lost';

/** Idle workers look for due tasks at least this often, even without a wake. */
const POLL_MS = 1000;

/**
 * N claim loops in this process. A loop claims a task with a lease, renews the lease while the
 * render runs (a lost lease aborts the render: someone else owns the task now), and settles the
 * result under the lease token so a stale worker can never finish a task twice.
 */
export function createWorkerPool(deps: Deps, waker: Waker, size: number): WorkerPool {
  let stopping = false;
  const loops: Promise<void>[] = [];
  const running = new Set<AbortController>();
  const { config, log } = deps;

  async function loop(): Promise<void> {
    while (!stopping) {
      const token = randomUUID();
      // Quiet: the claim's NOTIFY is sent after its commit, as a settle's (services/settle-task.ts).
      const quiet = deps.taskEvents.quietWrites?.() === true;
      let task: TaskRow | undefined;
      try {
        task = await claimNextTask(deps.db, deps.clock.now(), config.leaseMs, token, quiet);
      } catch (err) {
        log.error({ err }, 'claiming a task failed');
        await waker.wait(POLL_MS);
        continue;
      }
      if (!task) {
        await waker.wait(POLL_MS);
        continue;
      }
      deps.taskEvents.publish(task.id, quiet); // pending → processing
      await execute(task, token);
    }
  }

  async function execute(task: TaskRow, token: string): Promise<void> {
    const ctrl = new AbortController();
    const abort = (reason: StopReason) => ctrl.abort(reason);
    running.add(ctrl);
    const stopTimer = startTaskTimer(deps, task, () => abort('timeout'));
    // A cancel ends the task in the database; this notices it at once instead of at the next beat.
    const stopWatch = watchLease(deps, task.id, token, () => abort('lease-lost'));
    const beat = setInterval(
      () => {
        renewLease(deps.db, task.id, token, deps.clock.now(), config.leaseMs).then(
          (held) => held || abort('lease-lost'),
          (err) => log.warn({ err, taskId: task.id }, 'lease renewal failed'),
        );
      },
      Math.max(250, Math.floor(config.leaseMs / 3)),
    );
    let result: RunResult;
    try {
      result = await runTask(deps, task, ctrl.signal);
    } catch (err) {
      if (!ctrl.signal.aborted) log.error({ err, taskId: task.id }, 'render fault');
      result = { kind: 'failed', failure: { ok: false, failCode: 'INTERNAL_ERROR', message: 'the render failed unexpectedly', retryable: true }, engine: null };
    } finally {
      stopTimer();
      stopWatch();
      clearInterval(beat);
      running.delete(ctrl);
    }
    try {
      await finish(task, token, result, ctrl.signal.aborted ? (ctrl.signal.reason as StopReason) : null);
    } catch (err) {
      // The lease will expire and the reaper hands the task to another worker.
      log.error({ err, taskId: task.id }, 'settling a task failed');
    }
  }

  async function finish(task: TaskRow, token: string, result: RunResult, stopped: StopReason | null): Promise<void> {
    const now = deps.clock.now();
    if (stopped === 'lease-lost') {
      if (result.kind === 'success') await dropOrphanedResult(deps, task.id, [result.fields.result_key, result.fields.poster_key]);
      return;
    }
    if (stopped === 'shutdown') {
      await requeue(deps.db, task.id, token, now, { uncountAttempt: true });
      deps.taskEvents.publish(task.id); // pending again: its readers re-read
      return;
    }
    if (stopped === 'timeout') {
      await settleFailure(deps, task, token, 'TIMEOUT', `the task did not finish within ${Math.round(config.taskTimeoutMs / 1000)} s`);
      return;
    }
    if (result.kind === 'success') {
      // Lost to a cancel that committed first: that cancel released the hold; only the files remain.
      if (!(await settleSuccess(deps, task, token, result.fields)))
        await dropOrphanedResult(deps, task.id, [result.fields.result_key, result.fields.poster_key]);
      return;
    }
    const { failure } = result;
    if (failure.retryable && task.attempts < config.maxAttempts) {
      const backoff = Math.min(60_000, 1000 * 2 ** (task.attempts - 1));
      await requeue(deps.db, task.id, token, now + backoff);
      deps.taskEvents.publish(task.id);
      log.warn({ taskId: task.id, failCode: failure.failCode, attempt: task.attempts }, 'render failed; retrying');
      return;
    }
    await settleFailure(deps, task, token, failure.failCode, failure.message, result.engine);
  }

  return {
    start() {
      for (let i = 0; i < size; i++) loops.push(loop());
    },
    async stop() {
      stopping = true;
      for (const ctrl of running) ctrl.abort('shutdown' satisfies StopReason);
      waker.wake();
      await Promise.all(loops);
    },
  };
}
