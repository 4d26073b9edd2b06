import { type KeptRow, keep, sameRead } from './kept-rows.js';
import type { RowBatch } from './pg-row-batch.js';

/**
 * A kept row is read again after this long whatever was heard: the bound on how stale a row can
 * stay should the notification of a write to it never come. A finished task polled every few
 * seconds costs one read per process per this period.
 */
const MAX_AGE_MS = 10_000;

interface Entry extends KeptRow {
  /** When it was read (`now()`); past MAX_AGE_MS it is not answered. */
  readAt: number;
}

/**
 * Runs SQL `text` with `params` on PostgreSQL and gives the row's values (select order); with
 * `batch`, task `taskId`'s read may share one statement with others (db/pg-row-batch.ts).
 */
export type PgRowReader = (text: string, params: readonly unknown[], taskId: string, batch?: RowBatch) => Promise<unknown[] | undefined>;

/**
 * The row cache's side the LISTEN connection drives (worker/pg-notify-waker.ts): it is what makes
 * a kept row trustworthy, so without it nothing is kept.
 */
export interface PgTaskCacheControl {
  /** Task `taskId`'s row was written (a trigger's NOTIFY, or this process after its commit). */
  changed(taskId: string): void;
  /**
   * The LISTEN connection is up (true) or lost (false). Both drop every kept row: a notification
   * sent while nobody listened is lost, so nothing read before a reconnect is trusted after it.
   */
  listening(on: boolean): void;
}

export interface PgTaskCache extends PgTaskCacheControl {
  /** What `make` made of the row, the very same object, while kept; null when not kept (ask `read`). */
  peek<T extends object>(taskId: string, text: string, params: readonly unknown[]): T | null;
  /** Reads the row from PostgreSQL, keeping it when no write to it can have raced the read. */
  read<T extends object>(taskId: string, text: string, params: readonly unknown[], make: (values: unknown[]) => T, batch?: RowBatch): Promise<T | undefined>;
  /** Rows kept now (tests, metrics). */
  size(): number;
}

/**
 * Task rows read from PostgreSQL, kept in memory while the database has told us nothing changed
 * them. PostgreSQL cannot be asked "did anything commit?" without a round trip (which is what a
 * poll costs), so it is told: a trigger on `tasks` (migration 0012) sends the task id of every
 * update and delete in the writing transaction itself, delivered to every listener once that
 * transaction commits, whoever wrote it (another API process, a worker, the CLI, psql).
 *
 * - A kept row is used only while the LISTEN connection is up; losing it drops every row and turns
 *   the cache off until it is back (then reads go to PostgreSQL, as without a cache).
 * - A read that a notification for its task (or a reconnect) overtakes is answered but not kept:
 *   it may have seen the row from before that write.
 * - This process's own writes are dropped at once by `changed` (its task events, after its
 *   commit); every other write is seen after the notification's latency (docs/performance.md,
 *   measured), the bound on how stale another process's write can be here.
 * - Whatever might still slip through (the trigger disabled while the listener stays connected:
 *   it is checked at each connect) is bounded by MAX_AGE_MS: no row is answered from memory
 *   longer than that after it was read.
 */
export function pgTaskCache(readRow: PgRowReader, opts: { maxAgeMs?: number; now?: () => number } = {}): PgTaskCache {
  const maxAge = opts.maxAgeMs ?? MAX_AGE_MS;
  const now = opts.now ?? (() => performance.now());
  const entries = new Map<string, Entry>();
  /** Reads in flight, per task: set true when a notification for it arrives meanwhile. */
  const racing = new Map<string, { overtaken: boolean; readers: number }>();
  let on = false;
  /** Moves whenever the listener comes or goes: a read that spans it is not kept. */
  let generation = 0;

  const dropAll = () => {
    entries.clear();
    generation++;
    for (const r of racing.values()) r.overtaken = true;
  };

  return {
    peek<T extends object>(taskId: string, text: string, params: readonly unknown[]): T | null {
      if (!on) return null;
      const hit = entries.get(taskId);
      if (hit === undefined || !sameRead(hit, text, params)) return null;
      if (now() - hit.readAt > maxAge) {
        entries.delete(taskId);
        return null;
      }
      return hit.value as T;
    },
    async read<T extends object>(taskId: string, text: string, params: readonly unknown[], make: (values: unknown[]) => T, batch?: RowBatch) {
      if (!on) {
        const values = await readRow(text, params, taskId, batch);
        return values === undefined ? undefined : make(values);
      }
      const startedIn = generation;
      const startedAt = now();
      let race = racing.get(taskId);
      if (race === undefined) {
        race = { overtaken: false, readers: 0 };
        racing.set(taskId, race);
      }
      race.readers++;
      let values: unknown[] | undefined;
      try {
        values = await readRow(text, params, taskId, batch);
      } finally {
        if (--race.readers === 0) racing.delete(taskId);
      }
      if (values === undefined) return undefined;
      const value = make(values);
      if (on && !race.overtaken && startedIn === generation) {
        keep(entries, taskId, { text, params: params.slice(), value, readAt: startedAt });
      }
      return value;
    },
    changed(taskId) {
      entries.delete(taskId);
      const race = racing.get(taskId);
      if (race !== undefined) race.overtaken = true;
    },
    listening(up) {
      on = up;
      dropAll();
    },
    size: () => entries.size,
  };
}
