import type { IncomingMessage, ServerResponse } from 'node:http';
import { findTaskStatus, type TaskStatusRow } from '../db/tasks-repo.js';
import type { Deps } from '../services/deps.js';
import { onServerClosing } from './shutdown.js';

/**
 * How often a waiting reader re-reads the task even without a signal. Signals reach it from this
 * process and, on PostgreSQL, from other processes via NOTIFY; the re-read covers a lost one
 * (a LISTEN connection reconnecting) and SQLite deployments with a second writing process.
 */
const RECHECK_MS = 2000;

/**
 * An AbortSignal that fires when the client goes away before the response is finished, or when
 * the server begins to close (a held answer is then sent at once, an SSE stream ends).
 */
export function closed(res: ServerResponse): AbortSignal {
  const ctrl = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) ctrl.abort();
  });
  onServerClosing(res, () => ctrl.abort());
  return ctrl.signal;
}

/**
 * Re-reads the task until `changed` (by default: its state differs from `row.state`), `ms` pass,
 * or the client leaves.
 */
export async function waitForChange(
  deps: Deps,
  accountId: string,
  row: TaskStatusRow,
  ms: number,
  signal: AbortSignal,
  changed: (before: TaskStatusRow, now: TaskStatusRow) => boolean = (a, b) => a.state !== b.state,
): Promise<TaskStatusRow> {
  const start = performance.now();
  let current = row;
  for (;;) {
    const left = ms - (performance.now() - start);
    if (left <= 0 || signal.aborted) return current;
    await deps.taskEvents.next(row.id, Math.min(RECHECK_MS, left), signal);
    current = (await sharedRead(deps, accountId, row.id)) ?? current;
    if (changed(row, current)) return current;
  }
}

/**
 * One publish wakes every reader of the task at once; they share one read of the row, made in
 * this turn of the event loop, instead of each reading it again (hundreds of readers of one task
 * would otherwise cost hundreds of identical reads at the moment that matters most).
 */
const reads = new Map<string, Promise<TaskStatusRow | undefined>>();
function sharedRead(deps: Deps, accountId: string, id: string): Promise<TaskStatusRow | undefined> {
  const key = `${accountId}/${id}`;
  let read = reads.get(key);
  if (!read) {
    if (reads.size === 0) setImmediate(() => reads.clear());
    read = findTaskStatus(deps.db, accountId, id);
    reads.set(key, read);
  }
  return read;
}

/** Requests held open on purpose (long-poll, SSE): their duration is not slowness. */
const held = new WeakSet<object>();
export const holdOpen = (raw: IncomingMessage): void => void held.add(raw);
export const isHeldOpen = (raw: IncomingMessage): boolean => held.has(raw);
