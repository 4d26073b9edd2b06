/** Rows a task read cache keeps at most; a bound, not a working-set size (the oldest goes first). */
const MAX_KEPT_ROWS = 50_000;

/** A row kept by a task read cache (sqlite-task-cache.ts, pg-task-cache.ts): the read and what was made of it. */
export interface KeptRow {
  text: string;
  params: readonly unknown[];
  value: object;
}

/** Whether `kept` is the answer to this very read (the same SQL and parameters: another account's read is not). */
export function sameRead(kept: KeptRow, text: string, params: readonly unknown[]): boolean {
  if (kept.text !== text || kept.params.length !== params.length) return false;
  for (let i = 0; i < params.length; i++) if (kept.params[i] !== params[i]) return false;
  return true;
}

/** Keeps `row` for `taskId` as the newest entry, dropping the oldest past the bound. */
export function keep<R extends KeptRow>(rows: Map<string, R>, taskId: string, row: R): void {
  rows.delete(taskId);
  if (rows.size >= MAX_KEPT_ROWS) rows.delete(rows.keys().next().value!);
  rows.set(taskId, row);
}
