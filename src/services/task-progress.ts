import { countAhead, countAheadNow, type TaskStatusRow } from '../db/tasks-repo.js';
import type { Deps } from './deps.js';
import { durationHistory } from './duration-history.js';

/** The status fields beside `progress` (which is on the row): absent when not known. */
export interface QueueFields {
  /** Pending tasks ahead of this pending one in claim order. */
  queuePosition?: number;
  /** Seconds until the task is expected to end. */
  etaSeconds?: number;
}

const NONE: QueueFields = Object.freeze({});

/**
 * The estimate (docs/api.md, progress): with `expected` the median duration of recent runs of the
 * task's model and mode on its route, a processing task with a progress needs
 * `expected × (100 − progress) / 100` and a pending one `expected × (1 + ⌊queuePosition / workers⌋)`
 * (this process's worker count: the queue ahead drains that many at a time).
 */
function compose(deps: Deps, row: TaskStatusRow, ahead: number | null): QueueFields {
  const mode = row.mode;
  const expected = typeof mode === 'string' ? durationHistory(deps).expectedMs(row.provider, row.model, mode) : null;
  if (row.state === 'processing') {
    // Without a progress the time left is not known: `expected` alone would be a constant that
    // never counts down (an upstream run that began before any history, or one whose own run
    // was just logged and is being stored).
    if (expected === null || row.progress === null) return NONE;
    return { etaSeconds: Math.ceil((expected * (100 - Number(row.progress))) / 100 / 1000) };
  }
  if (ahead === null) return NONE;
  const fields: QueueFields = { queuePosition: ahead };
  if (expected !== null) fields.etaSeconds = Math.ceil((expected * (1 + Math.floor(ahead / Math.max(1, deps.config.workers)))) / 1000);
  return fields;
}

const unfinished = (state: string): boolean => state === 'pending' || state === 'processing';

/** The fields without a promise; null where the queue count cannot be read so (PostgreSQL). */
export function queueFieldsNow(deps: Deps, row: TaskStatusRow): QueueFields | null {
  if (!unfinished(row.state)) return NONE;
  if (row.state !== 'pending') return compose(deps, row, null);
  const ahead = countAheadNow(deps.db, Number(row.run_after), row.id);
  return ahead === null ? null : compose(deps, row, ahead);
}

export async function queueFields(deps: Deps, row: TaskStatusRow): Promise<QueueFields> {
  if (!unfinished(row.state)) return NONE;
  return compose(deps, row, row.state === 'pending' ? await countAhead(deps.db, Number(row.run_after), row.id) : null);
}
