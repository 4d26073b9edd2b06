import type { Kysely } from 'kysely';
import { cancelTaskRow } from '../db/cancel-repo.js';
import { captureInOneStatement } from '../db/capture-statement.js';
import { enqueueTaskCallback } from '../db/deliveries-repo.js';
import { releaseKeySpend } from '../db/key-spend-repo.js';
import { settleHold } from '../db/ledger-repo.js';
import type { Database } from '../db/schema.js';
import { markFailed, markSucceeded, type SuccessFields } from '../db/tasks-repo.js';
import type { FailCode } from '../domain/task-state.js';
import type { TaskEnded } from '../metrics/metrics.js';
import type { Deps } from './deps.js';

interface Settling {
  id: string;
  account_id: string;
  price_micros: number;
  /** For the metrics of the task that ended. */
  model: string;
  create_time: number;
}

/**
 * Ends a task as `success` and captures its hold, in one transaction. Returns false when this
 * caller no longer holds the lease (another worker took over): then nothing is written.
 * The webhook delivery (outbox row) is written in the same transaction, so it exists iff the task ended.
 */
export async function settleSuccess(deps: Deps, task: Settling, leaseToken: string, fields: SuccessFields): Promise<boolean> {
  const ended = { model: task.model, engine: fields.engine, state: 'success', failCode: null } as const;
  if (deps.db.dialect === 'postgres') {
    // One statement, no transaction round trips (db/capture-statement.ts): the hot path of a busy queue.
    const now = deps.clock.now();
    // Quiet: the row's NOTIFY goes out after the commit (task-events.ts), so this commit's WAL
    // flush is not made inside PostgreSQL's notify lock, where every settle waits for the flush
    // of the one before it (docs/performance.md, claims and settles on PostgreSQL).
    const quiet = deps.taskEvents.quietWrites?.() === true;
    if (await captureInOneStatement(deps.db, task.id, leaseToken, now, fields, quiet)) {
      announce(deps, task, ended, now, quiet);
      return true;
    }
    // Nothing written: a callback task, or a lease lost; the transaction below tells which.
  }
  return settle(deps, task, 'capture', ended, (trx, now) => markSucceeded(trx, task.id, leaseToken, now, fields));
}

/**
 * Ends a task as `failed` and releases its hold, in one transaction. The compare-and-set on the
 * task row means the hold is released exactly once however many callers race here.
 */
export function settleFailure(
  deps: Deps,
  task: Settling,
  leaseToken: string | null,
  failCode: FailCode,
  failMsg: string,
  engine: string | null = null,
): Promise<boolean> {
  const ended = { model: task.model, engine, state: 'failed', failCode } as const;
  return settle(deps, task, 'release', ended, (trx, now) => markFailed(trx, task.id, leaseToken, now, failCode, failMsg, engine));
}

/**
 * Cancels a pending task, or a processing one whose engine stops its work when aborted
 * (`cancellable`, cancel-repo.ts cancelTaskRow), and releases its hold, in one transaction. It
 * races the worker's settleSuccess on the same row: whichever compare-and-set commits first wins
 * and the other writes nothing, so the hold is captured or released, never both.
 */
export function settleCancel(deps: Deps, task: Settling & { engine: string | null }, cancellable: readonly string[]): Promise<boolean> {
  const ended = { model: task.model, engine: task.engine, state: 'failed', failCode: 'CANCELLED' } as const;
  return settle(deps, task, 'release', ended, (trx, now) => cancelTaskRow(trx, task.id, now, cancellable));
}

/** The compare-and-set on the task row, then the hold and the outbox row, all or nothing. */
async function settle(
  deps: Deps,
  task: Settling,
  outcome: 'capture' | 'release',
  ended: TaskEnded,
  mark: (trx: Kysely<Database>, now: number) => Promise<boolean>,
): Promise<boolean> {
  const now = deps.clock.now();
  let callback = false;
  const won = await deps.db.writeTx(async (trx) => {
    if (!(await mark(trx, now))) return false;
    await settleHold(trx, task.account_id, task.id, Number(task.price_micros), outcome, now);
    // A failed task costs nothing: its price goes back to its key's budget too (held and captured both count there).
    if (outcome === 'release') await releaseKeySpend(trx, task.id, Number(task.price_micros));
    callback = await enqueueTaskCallback(trx, task.id, now);
    return true;
  });
  if (callback) deps.wakeWebhooks();
  if (won) announce(deps, task, ended, now);
  return won;
}

/** After the commit: the task's readers and the metrics learn that it ended. */
function announce(deps: Deps, task: Settling, ended: TaskEnded, now: number, rowUnsent = false): void {
  deps.taskEvents.publish(task.id, rowUnsent);
  deps.metrics.taskFinished(ended, (now - Number(task.create_time)) / 1000);
}
