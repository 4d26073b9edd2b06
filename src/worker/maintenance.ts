import { deleteOldEngineRuns } from '../db/engine-health-repo.js';
import { deleteOldIdempotency } from '../db/idempotency-repo.js';
import { findExpiredLeases, findExpiredResults, markResultDeleted, releaseExpiredLease } from '../db/tasks-repo.js';
import type { Deps } from '../services/deps.js';
import { IDEMPOTENCY_WINDOW_MS } from '../services/idempotency.js';
import { settleFailure } from '../services/settle-task.js';
import { checkLateOutcomes } from './late-outcomes.js';
import { sweepTempDirs } from './temp-sweep.js';

/**
 * Returns tasks whose worker died (lease expired without a heartbeat) to the queue. A task that
 * has used all its attempts is failed and refunded instead, so a render that kills its worker
 * every time cannot loop forever.
 */
export async function reapExpiredLeases(deps: Deps): Promise<number> {
  const now = deps.clock.now();
  let n = 0;
  for (const t of await findExpiredLeases(deps.db, now)) {
    if (!t.lease_token) continue;
    const done =
      t.attempts >= deps.config.maxAttempts
        ? await settleFailure(deps, t, t.lease_token, 'INTERNAL_ERROR', `the render was interrupted ${t.attempts} times; giving up`)
        : await releaseExpiredLease(deps.db, t.id, t.lease_token, now, now);
    if (done) n++;
    // Back to pending: its readers here learn it now (other processes' through the row trigger).
    if (done) deps.taskEvents.publish(t.id);
  }
  if (n > 0) deps.wakeWorkers();
  return n;
}

/** Engine attempts are kept this long for `longshot engines` (it shows the last hour). */
const ENGINE_RUNS_KEPT_MS = 7 * 86_400_000;

/**
 * Deletes result files whose retention ran out (the task keeps its row; its file URL answers 410),
 * forgets Idempotency-Keys older than their 24 h window and engine runs older than a week.
 */
export async function deleteExpiredResults(deps: Deps): Promise<number> {
  const now = deps.clock.now();
  const rows = await findExpiredResults(deps.db, now);
  for (const r of rows) {
    if (r.result_key) await deps.blobs.delete(r.result_key);
    if (r.poster_key) await deps.blobs.delete(r.poster_key);
    await markResultDeleted(deps.db, r.id, now);
    deps.taskEvents.publish(r.id);
  }
  await deleteOldIdempotency(deps.db, now - IDEMPOTENCY_WINDOW_MS);
  await deleteOldEngineRuns(deps.db, now - ENGINE_RUNS_KEPT_MS);
  return rows.length;
}

export interface Maintenance {
  /** Settles when the first temp sweep is done: claim no task before, so a restart starts clean. */
  ready: Promise<void>;
  stop(): void;
}

/**
 * Runs the reaper, the retention sweep and the temp sweep on timers; errors are logged and
 * retried next tick.
 */
export function startMaintenance(deps: Deps, opts: { reapEveryMs: number; sweepEveryMs: number }): Maintenance {
  const guard = (name: string, fn: () => Promise<unknown>) => () =>
    fn().then(
      () => undefined,
      (err) => deps.log.error({ err }, `${name} failed`),
    );
  const sweepAll = async () => {
    await guard('retention sweep', () => deleteExpiredResults(deps))();
    await guard('temp sweep', () => sweepTempDirs(deps))();
  };
  const reap = setInterval(
    guard('lease reaper', () => reapExpiredLeases(deps)),
    opts.reapEveryMs,
  );
  const sweep = setInterval(() => void sweepAll(), opts.sweepEveryMs);
  // Upstream jobs given up on are asked about on the slow poll schedule; one round at a time.
  let checking = false;
  const late = setInterval(
    () => {
      if (checking) return;
      checking = true;
      void guard('late outcome check', () => checkLateOutcomes(deps))().finally(() => {
        checking = false;
      });
    },
    Math.max(100, deps.config.upstream.pollMaxMs),
  );
  reap.unref();
  sweep.unref();
  late.unref();
  // Run all once at start: a restart after a crash should not wait a full period. The folders a
  // killed render left behind go first (tasks still leased by the dead process stay until a
  // later sweep finds their lease run out).
  const ready = guard('temp sweep', () => sweepTempDirs(deps))();
  void guard('lease reaper', () => reapExpiredLeases(deps))();
  void guard('retention sweep', () => deleteExpiredResults(deps))();
  return {
    ready,
    stop() {
      clearInterval(reap);
      clearInterval(sweep);
      clearInterval(late);
    },
  };
}
