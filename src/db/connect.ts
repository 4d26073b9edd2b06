import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, type Transaction } from 'kysely';
import pg from 'pg';
import { groupCommitter } from './group-commit.js';
import { pgRowBatcher, type RowBatch } from './pg-row-batch.js';
import { type PgRowReader, type PgTaskCacheControl, pgTaskCache } from './pg-task-cache.js';
import type { Database } from './schema.js';
import { sqliteTaskReadCache, type TaskRowReader } from './sqlite-task-cache.js';

type Dialect = 'sqlite' | 'postgres';

/** An open database: the Kysely handle plus what differs between dialects. */
export interface Db {
  kysely: Kysely<Database>;
  dialect: Dialect;
  /**
   * Runs `fn` in a write transaction. On SQLite it is `BEGIN IMMEDIATE`, so the write lock is taken
   * up front and a second process (the CLI beside a server) waits on busy_timeout instead of
   * failing on a lock upgrade, and concurrent transactions share one commit (group-commit.ts).
   * On PostgreSQL a transaction given a `lane` (the account it charges) shares one commit with
   * the other laned ones too, in that lane; `fn` may then run more than once, so it must have no
   * effect outside the transaction. Without a lane it is a transaction of its own. A batch runs
   * in the order of (lane, `order`), so every batch takes row locks in one order.
   */
  writeTx<T>(fn: (trx: Kysely<Database> | Transaction<Database>) => Promise<T>, opts?: { lane?: string; order?: string }): Promise<T>;
  /**
   * One row of a read given as SQL text with placeholders (compile it once with Kysely). On
   * SQLite it runs on a separate read-only connection with a cached prepared statement — the hot
   * path of status polling — and, being another connection, sees only committed data.
   */
  selectOne<R>(sqlText: string, params: readonly unknown[]): Promise<R | undefined>;
  /**
   * A synchronous read of task `taskId`'s own row, given to `make` as its values in select order
   * (building an object keyed by column name costs the driver more than the rest of the read);
   * answered from memory, the same object, while no commit can have changed the row
   * (db/sqlite-task-cache.ts): the status poll's read. On PostgreSQL only a kept row is
   * answered so; null means "not in memory: ask {@link selectTask}".
   */
  selectTaskNow?<T extends object>(taskId: string, sqlText: string, params: readonly unknown[], make: (values: unknown[]) => T): T | undefined | null;
  /**
   * PostgreSQL: the same read, asynchronous, through the row cache (db/pg-task-cache.ts), which
   * `selectTaskNow` then answers from memory (null while the row is not kept). With `batch`, reads
   * of the same turn share one statement (db/pg-row-batch.ts).
   */
  selectTask?<T extends object>(
    taskId: string,
    sqlText: string,
    params: readonly unknown[],
    make: (values: unknown[]) => T,
    batch?: RowBatch,
  ): Promise<T | undefined>;
  /** PostgreSQL: what the LISTEN connection tells the row cache (worker/pg-notify-waker.ts). */
  taskCache?: PgTaskCacheControl;
  /** {@link selectOne} answered synchronously, uncached (SQLite only): the status poll's queue count. */
  selectOneNow?<R>(sqlText: string, params: readonly unknown[]): R | undefined;
  /**
   * Unchanged between two `selectTaskNow` calls exactly while nothing was committed between them
   * (sqlite-task-cache.ts `epoch`); absent without the task read cache.
   */
  commitEpoch?(): number;
  close(): Promise<void>;
}

export function openDb(opts: { dataDir: string; databaseUrl: string | null; statusCache?: boolean; pgPoolSize?: number }): Db {
  return opts.databaseUrl
    ? openPostgres(opts.databaseUrl, { taskCache: opts.statusCache ?? true, poolSize: opts.pgPoolSize })
    : openSqlite(join(opts.dataDir, 'longshot.db'), { taskCache: opts.statusCache ?? true });
}

/** `taskCache: false` sends every task read to SQLite (LONGSHOT_STATUS_CACHE=off). */
export function openSqlite(file: string, opts: { taskCache?: boolean } = {}): Db {
  mkdirSync(join(file, '..'), { recursive: true });
  const raw = new SQLite(file);
  raw.pragma('journal_mode = WAL');
  // FULL: a commit is on disk before the API acknowledges it (holds and tasks must not vanish).
  raw.pragma('synchronous = FULL');
  raw.pragma('busy_timeout = 10000');
  raw.pragma('foreign_keys = ON');
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(raw) }) });
  // WAL lets this reader run beside the writer; it is opened after the writer made the file WAL.
  const readerRaw = new SQLite(file, { readonly: true });
  readerRaw.pragma('busy_timeout = 10000');
  const reader = withStatementCache(readerRaw);
  const selectOneNow = <R>(text: string, params: readonly unknown[]) => reader.prepare(text).get(...params) as R | undefined;
  // Statements in raw mode are kept apart: raw(true) changes what get() returns for every user.
  const valueStatements = new Map<string, SQLite.Statement>();
  const readTask: TaskRowReader = (text, params, make) => {
    let stmt = valueStatements.get(text);
    if (stmt === undefined) {
      stmt = readerRaw.prepare(text).raw(true);
      valueStatements.set(text, stmt); // only compiled hot-path queries come here, never ad-hoc SQL
    }
    const values = stmt.get(...params) as unknown[] | undefined;
    return values === undefined ? undefined : make(values);
  };
  // Between BEGIN IMMEDIATE and its end nobody else can commit (the cache relies on it).
  let writeLockHeld = false;
  const writeTx = groupCommitter(kysely, {
    dialect: 'sqlite',
    onWriteLock: (held) => {
      writeLockHeld = held;
    },
  });
  const taskCache = opts.taskCache === false ? null : sqliteTaskReadCache(raw, file, readTask, () => writeLockHeld);
  return {
    kysely,
    dialect: 'sqlite',
    selectOne: async (text, params) => selectOneNow(text, params),
    selectOneNow,
    ...(taskCache ? { commitEpoch: taskCache.epoch } : {}),
    selectTaskNow: taskCache ? taskCache.get : (_taskId, text, params, make) => readTask(text, params, make),
    // One writer, so one lane: every transaction joins the same batch whatever its lane.
    writeTx: (fn) => writeTx(fn),
    close: async () => {
      taskCache?.close();
      await kysely.destroy();
      reader.close();
    },
  };
}

/**
 * Kysely's SQLite driver prepares every query anew; preparing costs more than running a
 * primary-key read. The same SQL text (Kysely emits placeholders) reuses one prepared statement.
 * Safe because the driver runs statements to completion synchronously and never interleaves them.
 */
function withStatementCache(raw: SQLite.Database): SQLite.Database {
  const cache = new Map<string, SQLite.Statement>();
  const prepare = (source: string): SQLite.Statement => {
    let stmt = cache.get(source);
    if (!stmt) {
      stmt = raw.prepare(source);
      if (cache.size >= 512) cache.clear(); // ad-hoc SQL (migrations, tools) must not grow it forever
      cache.set(source, stmt);
    }
    return stmt;
  };
  return new Proxy(raw, {
    get(target, prop) {
      if (prop === 'prepare') return prepare;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * `taskCache: false` sends every task read to PostgreSQL (LONGSHOT_STATUS_CACHE=off); `poolSize`
 * connections at most (LONGSHOT_PG_POOL_SIZE, default 10), the LISTEN connection not counted.
 */
export function openPostgres(url: string, opts: { taskCache?: boolean; poolSize?: number } = {}): Db {
  // int8 columns hold Unix ms and micro-dollars, all far below 2^53: read them as numbers.
  pg.types.setTypeParser(20, (v) => Number(v));
  const pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 10 });
  // An idle pooled connection that PostgreSQL ends (a restart, a failover, pg_terminate_backend)
  // is an 'error' event on the pool; unheard, it would end the process. The pool drops that
  // connection and opens a new one on the next query; nothing else needs doing.
  pool.on('error', () => {});
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const groupTx = groupCommitter(kysely, { dialect: 'postgres', lanes: PG_COMMIT_LANES });
  // Rows as value arrays, as on SQLite: the status read makes its own object (tasks-repo.ts).
  const batched = pgRowBatcher(async (text, ids) => (await pool.query<unknown[]>({ name: statementName(text), text, values: [ids], rowMode: 'array' })).rows);
  const readRow: PgRowReader = async (text, params, taskId, batch) =>
    batch !== undefined
      ? batched(batch, taskId, params[1])
      : (await pool.query<unknown[]>({ name: statementName(text), text, values: [...params], rowMode: 'array' })).rows[0];
  // Off (LONGSHOT_STATUS_CACHE=off) or without a LISTEN connection to keep it true: every read asks PostgreSQL.
  const taskCache = opts.taskCache === false ? null : pgTaskCache(readRow);
  // Without the cache (off) the same reads, every one asking PostgreSQL: the status fast path
  // still answers without Fastify, one round trip per poll.
  const cachedReads: Pick<Db, 'selectTaskNow' | 'selectTask' | 'taskCache'> = taskCache
    ? {
        selectTaskNow: <T extends object>(taskId: string, text: string, params: readonly unknown[], _make: (values: unknown[]) => T) =>
          taskCache.peek<T>(taskId, text, params),
        selectTask: taskCache.read,
        taskCache,
      }
    : {
        selectTaskNow: () => null,
        selectTask: async (taskId, text, params, make, batch) => {
          const values = await readRow(text, params, taskId, batch);
          return values === undefined ? undefined : make(values);
        },
      };
  return {
    kysely,
    dialect: 'postgres',
    writeTx: (fn, opts) => (opts?.lane === undefined ? kysely.transaction().execute(fn) : groupTx(fn, opts.lane, opts.order)),
    // A named statement is parsed and planned once per connection, not on every status read.
    selectOne: async <R>(text: string, params: readonly unknown[]) =>
      (await pool.query<R & pg.QueryResultRow>({ name: statementName(text), text, values: [...params] })).rows[0],
    ...cachedReads,
    close: () => kysely.destroy(),
  };
}

/**
 * Group-commit batches one API process runs at once on PostgreSQL, each holding one of the pool's
 * 10 connections while it runs: one account's submits always use one lane (its balance row is
 * locked by one batch at a time anyway), so more lanes only help more accounts, and the rest of
 * the pool stays free for reads and the workers. These batches pay a roundtrip per statement per
 * job, so a lane is mostly waiting and several overlap well; the plain submits' set-based batches
 * (pg-submit-batch.ts), a few statements per batch, measured best with one lane.
 */
const PG_COMMIT_LANES = 4;

const statementNames = new Map<string, string>();
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (!name) {
    name = `ls_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return name;
}
