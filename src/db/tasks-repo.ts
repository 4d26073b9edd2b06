import { type Kysely, type Selectable, sql } from 'kysely';
import type { Db } from './connect.js';
import { quietRowWrite } from './pg-channels.js';
import type { RowBatch } from './pg-row-batch.js';
import type { Database, TasksTable } from './schema.js';

export type TaskRow = Selectable<TasksTable>;

/**
 * The columns the status route needs; kept narrow because that route is the hottest. `model` and
 * `provider` are what the key's permissions are checked against (services/caller.ts taskRefusal).
 */
export const STATUS_COLUMNS = [
  'id',
  'model',
  'state',
  'create_time',
  'complete_time',
  'fail_code',
  'fail_msg',
  'result_key',
  'poster_key',
  'deleted_at',
  'provider',
  'progress',
  'run_after',
] as const;
/** `mode` (from the input, for estimates) is read by the status read, not by task lists. */
export type TaskStatusRow = Pick<TaskRow, (typeof STATUS_COLUMNS)[number]> & { mode?: string | null };

export async function insertTask(trx: Kysely<Database>, row: TaskRow): Promise<void> {
  await trx.insertInto('tasks').values(row).execute();
}

/** Pending plus processing tasks of an API key (its concurrency). */
export async function countUnfinished(trx: Kysely<Database>, apiKeyId: string): Promise<number> {
  const row = await trx
    .selectFrom('tasks')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('api_key_id', '=', apiKeyId)
    .where('state', 'in', ['pending', 'processing'])
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** PostgreSQL: holds the key's row until commit so one key's submits count its tasks one at a time. */
export async function lockKey(trx: Kysely<Database>, apiKeyId: string): Promise<void> {
  await trx.selectFrom('api_keys').select('id').where('id', '=', apiKeyId).forUpdate().execute();
}

/** A task of this account, or nothing: another account's task is indistinguishable from none. */
export async function findTask(db: Db | Kysely<Database>, accountId: string, id: string): Promise<TaskRow | undefined> {
  const k = 'kysely' in db ? db.kysely : db;
  return k.selectFrom('tasks').selectAll().where('id', '=', id).where('account_id', '=', accountId).executeTakeFirst();
}

/**
 * The status read, compiled once per database: building and compiling the query costs more than
 * running it, and this runs on every poll.
 */
const statusSql = new WeakMap<Db, string>();

/**
 * The status columns of a task of this account; the row may be shared: do not change it.
 * `fresh`: what a message built now must carry (a webhook body), never PostgreSQL's row cache,
 * which may lag another process's commit by a notification's latency (SQLite's never lags).
 */
export async function findTaskStatus(db: Db, accountId: string, id: string, opts: { fresh?: boolean } = {}): Promise<TaskStatusRow | undefined> {
  if (db.selectTask && opts.fresh) return db.selectOne<TaskStatusRow>(statusSqlOf(db), [id, accountId]);
  return (await readTaskStatus(db, accountId, id))?.row;
}

/**
 * {@link findTaskStatusNow}'s read, asynchronous where it cannot answer synchronously; on
 * PostgreSQL the row cache then keeps the row, the same object, for the next poll.
 */
export async function readTaskStatus(db: Db, accountId: string, id: string): Promise<StatusRead | undefined> {
  const now = findTaskStatusNow(db, accountId, id);
  if (now !== null) return now;
  if (db.selectTask) return db.selectTask(id, statusSqlOf(db), [id, accountId], statusRead, statusBatchOf(db));
  const row = await db.selectOne<TaskStatusRow>(statusSqlOf(db), [id, accountId]);
  return row === undefined ? undefined : { row, derived: undefined };
}

/** PostgreSQL: the status read of many tasks in one statement (db/pg-row-batch.ts), the owner last. */
const statusBatch = new WeakMap<Db, RowBatch>();
export function statusBatchOf(db: Db): RowBatch {
  let batch = statusBatch.get(db);
  if (batch === undefined) {
    const text = db.kysely
      .selectFrom('tasks')
      .select(STATUS_COLUMNS)
      .select(sql<string>`(input::json ->> 'mode')`.as('mode'))
      .select('account_id')
      .where(sql<boolean>`${sql.ref('id')} = any(${[] as string[]}::text[])`)
      .compile().sql;
    batch = { text, ownerAt: STATUS_COLUMNS.length + 1 };
    statusBatch.set(db, batch);
  }
  return batch;
}

/** A status row read synchronously; `derived` is the reader's slot for what it computes from it. */
export interface StatusRead {
  row: TaskStatusRow;
  derived?: unknown;
}

/**
 * The status read without a promise, where the database answers synchronously (SQLite, or a row
 * PostgreSQL's row cache keeps): the row, undefined where there is none, or null where it cannot
 * answer so, and the caller takes the asynchronous road ({@link findTaskStatus}, which keeps the
 * row for the next poll). While the row is unchanged the read caches answer with the same
 * object, so whatever a caller keeps in `derived` lives exactly as long as the row.
 */
export function findTaskStatusNow(db: Db, accountId: string, id: string): StatusRead | undefined | null {
  if (!db.selectTaskNow) return null;
  return db.selectTaskNow(id, statusSqlOf(db), [id, accountId], statusRead);
}

/** Values in the order of STATUS_COLUMNS, which is the select order. */
const statusRead = (v: unknown[]): StatusRead => ({
  row: {
    id: v[0],
    model: v[1],
    state: v[2],
    create_time: v[3],
    complete_time: v[4],
    fail_code: v[5],
    fail_msg: v[6],
    result_key: v[7],
    poster_key: v[8],
    deleted_at: v[9],
    provider: v[10],
    progress: v[11],
    run_after: v[12],
    mode: v[13],
  } as TaskStatusRow,
  derived: undefined,
});

function statusSqlOf(db: Db): string {
  let text = statusSql.get(db);
  if (text === undefined) {
    // The mode lives in the input JSON; it keys the duration history behind etaSeconds.
    const mode = db.dialect === 'postgres' ? sql<string>`(input::json ->> 'mode')` : sql<string>`json_extract(input, '$.mode')`;
    text = db.kysely.selectFrom('tasks').select(STATUS_COLUMNS).select(mode.as('mode')).where('id', '=', '?').where('account_id', '=', '?').compile().sql;
    statusSql.set(db, text);
  }
  return text;
}

/**
 * Pending tasks ahead of a pending task in the order workers claim them (run_after, then id: see
 * claimNextTask), counted on the queue index (run_after, id of pending tasks) and compiled once per database.
 */
const aheadSql = new WeakMap<Db, string>();
function aheadSqlOf(db: Db): string {
  let text = aheadSql.get(db);
  if (text === undefined) {
    text = db.kysely
      .selectFrom('tasks')
      .select((eb) => eb.fn.countAll().as('n'))
      // A literal: the partial queue index (migration 0016) answers only a query that says it.
      .where('state', '=', sql.lit('pending'))
      .where((eb) => eb(eb.refTuple('run_after', 'id'), '<', eb.tuple('?' as unknown as number, '?')))
      .compile().sql;
    aheadSql.set(db, text);
  }
  return text;
}

/** The queue position of a pending task (0 = next to be claimed); null where it needs a promise (PostgreSQL). */
export function countAheadNow(db: Db, runAfter: number, id: string): number | null {
  if (!db.selectOneNow) return null;
  return Number(db.selectOneNow<{ n: number }>(aheadSqlOf(db), [runAfter, id])?.n ?? 0);
}

export async function countAhead(db: Db, runAfter: number, id: string): Promise<number> {
  return Number((await db.selectOne<{ n: number | string }>(aheadSqlOf(db), [runAfter, id]))?.n ?? 0);
}

export async function getTaskById(db: Db, id: string): Promise<TaskRow | undefined> {
  return db.kysely.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * Raises a running task's progress under its lease; never lowers it (a retry starts from 0 in
 * memory, the row keeps the highest value). False when nothing changed.
 */
export async function raiseProgress(db: Db, id: string, leaseToken: string, progress: number): Promise<boolean> {
  const res = await db.writeTx((trx) =>
    trx
      .updateTable('tasks')
      .set({ progress })
      .where('id', '=', id)
      .where('state', '=', 'processing')
      .where('lease_token', '=', leaseToken)
      .where((eb) => eb.or([eb('progress', 'is', null), eb('progress', '<', progress)]))
      .executeTakeFirst(),
  );
  return Number(res.numUpdatedRows) > 0;
}

/** Extends a lease; false when the lease was lost (expired and reclaimed), so the holder must stop. */
export async function renewLease(db: Db, id: string, leaseToken: string, now: number, leaseMs: number): Promise<boolean> {
  const res = await db.kysely
    .updateTable('tasks')
    .set({ lease_expires_at: now + leaseMs })
    .where('id', '=', id)
    .where('state', '=', 'processing')
    .where('lease_token', '=', leaseToken)
    // PostgreSQL: no NOTIFY for a renewal. No reader shows or acts on the lease (it is not a status
    // column, and a worker's cancel watch looks for the lease being taken, which a renewal never
    // does), while every process would receive one per running task every leaseMs / 3.
    .$if(db.dialect === 'postgres', (q) => q.where(quietRowWrite))
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

export interface SuccessFields {
  engine: string;
  result_key: string;
  poster_key: string;
  result_size: number;
  result_etag: string;
  duration_ms: number;
  width: number;
  height: number;
  expires_at: number;
}

/** Compare-and-set to `success`: only the current lease holder of a processing task wins. */
export async function markSucceeded(trx: Kysely<Database>, id: string, leaseToken: string, now: number, fields: SuccessFields): Promise<boolean> {
  const res = await trx
    .updateTable('tasks')
    .set({ ...fields, state: 'success', complete_time: now, lease_token: null, lease_expires_at: null })
    .where('id', '=', id)
    .where('state', '=', 'processing')
    .where('lease_token', '=', leaseToken)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/**
 * Compare-and-set to `failed`. `leaseToken` null fails a task only while it is `pending` (cancel);
 * a processing task can be failed only by its lease holder.
 */
export async function markFailed(
  trx: Kysely<Database>,
  id: string,
  leaseToken: string | null,
  now: number,
  failCode: string,
  failMsg: string,
  engine: string | null,
): Promise<boolean> {
  let q = trx
    .updateTable('tasks')
    .set({ state: 'failed', complete_time: now, fail_code: failCode, fail_msg: failMsg, lease_token: null, lease_expires_at: null, engine })
    .where('id', '=', id);
  q = leaseToken === null ? q.where('state', '=', 'pending') : q.where('state', '=', 'processing').where('lease_token', '=', leaseToken);
  const res = await q.executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/**
 * Puts a leased task back in the queue to run again after `runAfter`: after a retryable failure,
 * or with `uncountAttempt` when a graceful shutdown interrupted it through no fault of the task.
 * `expiredBefore` makes it a reaper's hand-back: only if the lease has also run out.
 */
export async function requeue(
  db: Db,
  id: string,
  leaseToken: string,
  runAfter: number,
  opts: { uncountAttempt?: boolean; expiredBefore?: number } = {},
): Promise<boolean> {
  let q = db.kysely
    .updateTable('tasks')
    .set((eb) => ({
      state: 'pending',
      lease_token: null,
      lease_expires_at: null,
      // No engine runs it now (cancel-repo.ts markRunningEngine); an upstream job left running is in task_upstream.
      engine: null,
      run_after: runAfter,
      attempts: opts.uncountAttempt ? eb('attempts', '-', 1) : eb.ref('attempts'),
    }))
    .where('id', '=', id)
    .where('state', '=', 'processing')
    .where('lease_token', '=', leaseToken);
  if (opts.expiredBefore !== undefined) q = q.where('lease_expires_at', '<', opts.expiredBefore);
  const res = await q.executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** Tasks whose worker stopped heart-beating (crash, kill -9, lost machine). */
export async function findExpiredLeases(db: Db, now: number, limit = 100) {
  return db.kysely
    .selectFrom('tasks')
    .select(['id', 'account_id', 'attempts', 'lease_token', 'price_micros', 'model', 'create_time'])
    .where('state', '=', 'processing')
    .where('lease_expires_at', '<', now)
    .limit(limit)
    .execute();
}

/** Returns an expired lease to the queue, unless someone renewed or finished it meanwhile. */
export function releaseExpiredLease(db: Db, id: string, leaseToken: string, now: number, runAfter: number): Promise<boolean> {
  return requeue(db, id, leaseToken, runAfter, { expiredBefore: now });
}

/** State, attempt and lease of these tasks (the temp sweep asks which renders may still be running). */
export async function findTaskLeases(db: Db, ids: readonly string[]) {
  if (ids.length === 0) return [];
  return db.kysely.selectFrom('tasks').select(['id', 'state', 'attempts', 'lease_expires_at']).where('id', 'in', ids).execute();
}

/** Finished results whose retention ran out and whose files are still on disk. */
export async function findExpiredResults(db: Db, now: number, limit = 100) {
  return db.kysely
    .selectFrom('tasks')
    .select(['id', 'result_key', 'poster_key'])
    .where('deleted_at', 'is', null)
    .where('expires_at', '<', now)
    .limit(limit)
    .execute();
}

export async function markResultDeleted(db: Db, id: string, now: number): Promise<void> {
  await db.kysely.updateTable('tasks').set({ deleted_at: now, delete_reason: 'retention' }).where('id', '=', id).execute();
}

/**
 * Marks a finished task deleted at its owner's request, once its files are gone: the file keys
 * are cleared, so no status answer signs a URL for them again. Only a finished, not yet deleted
 * task changes; false when nothing did (deleted meanwhile, or no longer finished).
 */
export async function markTaskDeletedByRequest(db: Db, accountId: string, id: string, now: number): Promise<boolean> {
  const res = await db.kysely
    .updateTable('tasks')
    .set({ deleted_at: now, delete_reason: 'request', result_key: null, poster_key: null })
    .where('id', '=', id)
    .where('account_id', '=', accountId)
    .where('state', 'in', ['success', 'failed'])
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** An unfinished (pending or processing) extension of this task, if any. */
export async function findUnfinishedExtension(db: Db, id: string): Promise<{ id: string; state: string } | undefined> {
  return db.kysely
    .selectFrom('tasks')
    .select(['id', 'state'])
    .where('source_task_id', '=', id)
    .where('state', 'in', ['pending', 'processing'])
    .limit(1)
    .executeTakeFirst();
}
