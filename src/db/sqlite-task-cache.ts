import { closeSync, openSync, readSync } from 'node:fs';
import type SQLite from 'better-sqlite3';
import { type KeptRow, keep, sameRead } from './kept-rows.js';

/** The wal-index header: two copies of 48 bytes at the start of the `-shm` file (sqlite.org/walformat.html). */
const HEADER = 48;

/** Runs SQL `text` with `params` on the reader and makes an object of the row's values. */
export type TaskRowReader = <T extends object>(text: string, params: readonly unknown[], make: (values: unknown[]) => T) => T | undefined;

export interface TaskReadCache {
  /**
   * What `make` made of task `taskId`'s row (SQL `text` with `params`), from memory while no
   * commit can have changed the row since, else read now (and kept, as the very same object).
   * Undefined (no such row) is not kept.
   */
  get<T extends object>(taskId: string, text: string, params: readonly unknown[], make: (values: unknown[]) => T): T | undefined;
  /**
   * A number that stays the same from one `get` to the next exactly while nothing at all was
   * committed between them (the wal-index header was unchanged): whatever was read from the
   * database then, any row, is still true. Moves on every other check.
   */
  epoch(): number;
  close(): void;
}

/**
 * Rows of the `tasks` table read on the SQLite reader, kept in memory while they provably have
 * not changed. Status polls far outnumber state changes, and a read transaction costs two lock
 * system calls plus the statement; this answers most polls with one `pread` instead.
 *
 * A kept row is used only if nothing has committed since, or everything committed since was
 * written by this process's writer connection (`writer`), whose writes to `tasks` drop the rows
 * they touch (temporary triggers call back into this process):
 * - "nothing committed since" is the wal-index header in `<db>-shm` being byte-identical to the
 *   one seen when the cache was last known good: every commit, by any process, rewrites it;
 * - "only our writer committed" is `PRAGMA data_version` on the writer being unchanged: it moves
 *   exactly when another connection (another process, the CLI, a second connection here) commits;
 *   then every kept row is dropped.
 * Rows touched by a transaction that is still open are dropped when it is written and again once it
 * has ended (committed or rolled back); meanwhile the committed row is the right answer.
 * Wherever one of these cannot be checked (no `-shm` file, a torn header read, a transaction open
 * on the writer without the write lock when the header moved), the read goes to SQLite as before.
 * `read` reads a row on the reader; `holdsWriteLock` tells whether the writer's open transaction
 * holds the write lock.
 */
export function sqliteTaskReadCache(writer: SQLite.Database, file: string, read: TaskRowReader, holdsWriteLock: () => boolean = () => false): TaskReadCache {
  const entries = new Map<string, KeptRow>();
  /** Tasks written by the writer's open transaction: a read meanwhile keeps the committed row. */
  const touched = new Set<string>();
  const header = Buffer.alloc(2 * HEADER);
  /** The header when the cache was last known good; all zeros (never a valid header) when not. */
  const known = Buffer.alloc(HEADER);
  let dataVersion = -1;
  let shm: number | null = null;
  let epoch = 0;
  /** Set by `valid` when the header was the one last known: nothing committed since. */
  let unchanged = false;

  writer.function('longshot_task_written', { deterministic: false, varargs: false }, (id: unknown) => {
    if (typeof id !== 'string') return null;
    entries.delete(id);
    if (writer.inTransaction) touched.add(id);
    return null;
  });

  /**
   * Temporary triggers: this connection's writes only. A migration rebuilding `tasks` drops them,
   * and so would the rollback of a transaction that created them; they are made outside any.
   */
  const triggerCount = writer.prepare("select count(*) from temp.sqlite_master where type = 'trigger' and name like 'longshot_task_written_%'").pluck();
  const createTriggers = (): boolean => {
    try {
      writer.exec(`
        create temp trigger if not exists longshot_task_written_i after insert on main.tasks begin select longshot_task_written(new.id); end;
        create temp trigger if not exists longshot_task_written_u after update on main.tasks begin select longshot_task_written(old.id); select longshot_task_written(new.id); end;
        create temp trigger if not exists longshot_task_written_d after delete on main.tasks begin select longshot_task_written(old.id); end;`);
      return true;
    } catch {
      return false; // no tasks table yet (not migrated): no caching
    }
  };
  const dataVersionOf = writer.prepare('pragma data_version').pluck();

  /** True when kept rows may be used and new ones kept; false sends this read to SQLite uncached. */
  const valid = (): boolean => {
    unchanged = false;
    if (touched.size > 0 && !writer.inTransaction) {
      for (const id of touched) entries.delete(id);
      touched.clear();
    }
    if (shm === null) {
      try {
        shm = openSync(`${file}-shm`, 'r');
      } catch {
        return false;
      }
    }
    if (readSync(shm, header, 0, 2 * HEADER, 0) !== 2 * HEADER) return false;
    // A writer updates the second copy, then the first: unequal copies are a read mid-update.
    if (header.compare(header, 0, HEADER, HEADER, 2 * HEADER) !== 0 || header[12] !== 1) return false;
    if (header.compare(known, 0, HEADER, 0, HEADER) === 0) {
      unchanged = true;
      return true;
    }
    // Something committed. Our writer's commits have dropped their rows already; another
    // connection's have not. An open transaction on the writer pins what data_version reports,
    // unless it holds the write lock (BEGIN IMMEDIATE): then nobody can have committed since.
    if (writer.inTransaction && !holdsWriteLock()) return false;
    // Without the triggers (never made, or dropped with the table) our own writes were not seen.
    if (triggerCount.get() !== 3) {
      entries.clear();
      known.fill(0);
      if (writer.inTransaction || !createTriggers()) return false;
    }
    const version = dataVersionOf.get() as number;
    if (version !== dataVersion) {
      entries.clear();
      dataVersion = version;
    }
    header.copy(known, 0, 0, HEADER);
    return true;
  };

  return {
    get<T extends object>(taskId: string, text: string, params: readonly unknown[], make: (values: unknown[]) => T) {
      let usable = false;
      try {
        usable = valid();
      } catch {
        // An unreadable -shm file or a busy writer must not fail a poll: SQLite answers it.
      }
      if (!(usable && unchanged)) epoch++;
      if (!usable) return read(text, params, make);
      const hit = entries.get(taskId);
      if (hit !== undefined && sameRead(hit, text, params)) return hit.value as T;
      const value = read(text, params, make);
      if (value !== undefined) keep(entries, taskId, { text, params: params.slice(), value });
      return value;
    },
    epoch: () => epoch,
    close() {
      if (shm !== null) closeSync(shm);
      shm = null;
      entries.clear();
    },
  };
}
