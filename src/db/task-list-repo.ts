import { type Selectable, sql } from 'kysely';
import { DAY_MS } from '../domain/utc-days.js';
import type { Db } from './connect.js';
import type { TasksTable } from './schema.js';
import { STATUS_COLUMNS } from './tasks-repo.js';

/** What a list shows of a task: the status view's columns and the operator's. */
const LIST_COLUMNS = [...STATUS_COLUMNS, 'account_id', 'api_key_id', 'engine', 'attempts', 'source_task_id', 'chain_depth'] as const;
export type TaskListRow = Pick<Selectable<TasksTable>, (typeof LIST_COLUMNS)[number]>;

export interface TaskListQuery {
  accountId?: string;
  apiKeyId?: string;
  state?: string;
  model?: string;
  engine?: string;
  /** Created at or after this time (Unix ms). */
  fromMs?: number;
  /** Created before this time. */
  toMs?: number;
  /** Only tasks of these models / providers (a key's permissions); null or absent = any. */
  models?: readonly string[] | null;
  providers?: readonly string[] | null;
  /** Keyset: only ids below this one, the last of the previous page. */
  beforeId?: string;
  limit: number;
}

/**
 * Tasks newest first. Ids are UUIDv7, time-ordered, so `id` alone is the sort key and the
 * keyset: a task created while a client pages has a higher id than the first page's first, and
 * never moves a later page. Reads `limit + 1` rows to know whether another page exists.
 */
export async function listTaskRows(db: Db, q: TaskListQuery): Promise<{ rows: TaskListRow[]; more: boolean }> {
  let query = db.kysely
    .selectFrom('tasks')
    .select(LIST_COLUMNS)
    .orderBy('id', 'desc')
    .limit(q.limit + 1);
  if (q.accountId !== undefined) query = query.where('account_id', '=', q.accountId);
  if (q.apiKeyId !== undefined) query = query.where('api_key_id', '=', q.apiKeyId);
  if (q.state !== undefined) query = query.where('state', '=', q.state);
  if (q.model !== undefined) query = query.where('model', '=', q.model);
  if (q.engine !== undefined) query = query.where('engine', '=', q.engine);
  if (q.fromMs !== undefined) query = query.where('create_time', '>=', q.fromMs);
  if (q.toMs !== undefined) query = query.where('create_time', '<', q.toMs);
  // An empty list allows nothing: `in ()` is not SQL, and a key that may use no model sees no task.
  if (q.models) query = q.models.length ? query.where('model', 'in', q.models) : query.where(sql<boolean>`1 = 0`);
  if (q.providers) query = q.providers.length ? query.where('provider', 'in', q.providers) : query.where(sql<boolean>`1 = 0`);
  if (q.beforeId !== undefined) query = query.where('id', '<', q.beforeId);
  const rows = await query.execute();
  const more = rows.length > q.limit;
  return { rows: more ? rows.slice(0, q.limit) : rows, more };
}

/** One group of a usage report: a UTC day, an account, a model and the engine that served the tasks. */
export interface UsageGroup {
  day: number;
  accountId: string;
  model: string;
  /** Null for tasks no engine has served (yet). */
  engine: string | null;
  /** Submitted that day. */
  tasks: number;
  /** Ended that day. */
  succeeded: number;
  failed: number;
  /** Seconds of video the successes made, in ms: an extension counts what it added to its source. */
  videoMs: number;
  /** The captured holds of that day's successes. */
  spentMicros: number;
}

const dayExpr = (column: string) => sql<number>`${sql.ref(column)} / ${sql.lit(DAY_MS)}`;

/**
 * Usage in [fromMs, toMs), grouped by day, account, model and engine; of one account or of all.
 * Each event counts on its own day: a submit on the day of `create_time`, an end on the day of
 * `complete_time`. Spend is the ledger's capture entries, reached through the ended tasks (the
 * unique (task_id, kind) index): a capture is written in the transaction that ends its task, with
 * the same time, so these are exactly the captures of the range. Sums stay integers (ms, micros).
 */
export async function usageGroups(db: Db, q: { fromMs: number; toMs: number; accountId?: string }): Promise<UsageGroup[]> {
  let submitted = db.kysely
    .selectFrom('tasks')
    .select([dayExpr('create_time').as('day'), 'account_id', 'model', 'engine', (eb) => eb.fn.countAll<number>().as('n')])
    .where('create_time', '>=', q.fromMs)
    .where('create_time', '<', q.toMs)
    .groupBy([dayExpr('create_time'), 'account_id', 'model', 'engine']);
  let ended = db.kysely
    .selectFrom('tasks as t')
    .leftJoin('tasks as s', 's.id', 't.source_task_id')
    .leftJoin('ledger_entries as l', (j) => j.onRef('l.task_id', '=', 't.id').on('l.kind', '=', 'capture'))
    .select([
      dayExpr('t.complete_time').as('day'),
      't.account_id',
      't.model',
      't.engine',
      't.state',
      (eb) => eb.fn.countAll<number>().as('n'),
      sql<number>`sum(case when t.state = 'success' then coalesce(t.duration_ms, 0) - coalesce(s.duration_ms, 0) else 0 end)`.as('video_ms'),
      sql<number>`sum(coalesce(l.amount_micros, 0))`.as('spent'),
    ])
    // Only an ended task has a complete_time; its state is grouped, not filtered, so the planner
    // takes the complete_time index rather than scanning every finished task by state.
    .where('t.complete_time', '>=', q.fromMs)
    .where('t.complete_time', '<', q.toMs)
    .groupBy([dayExpr('t.complete_time'), 't.account_id', 't.model', 't.engine', 't.state']);
  if (q.accountId !== undefined) {
    submitted = submitted.where('account_id', '=', q.accountId);
    ended = ended.where('t.account_id', '=', q.accountId);
  }
  const [a, b] = await Promise.all([submitted.execute(), ended.execute()]);
  const groups = new Map<string, UsageGroup>();
  const group = (day: number, accountId: string, model: string, engine: string | null): UsageGroup => {
    const key = JSON.stringify([day, accountId, model, engine]);
    let g = groups.get(key);
    if (!g) {
      g = { day, accountId, model, engine, tasks: 0, succeeded: 0, failed: 0, videoMs: 0, spentMicros: 0 };
      groups.set(key, g);
    }
    return g;
  };
  // PostgreSQL answers bigint counts and sums as text.
  for (const r of a) group(Number(r.day), r.account_id, r.model, r.engine).tasks += Number(r.n);
  for (const r of b) {
    if (r.state !== 'success' && r.state !== 'failed') continue;
    const g = group(Number(r.day), r.account_id, r.model, r.engine);
    if (r.state === 'success') g.succeeded += Number(r.n);
    else g.failed += Number(r.n);
    g.videoMs += Number(r.video_ms);
    g.spentMicros += Number(r.spent);
  }
  return [...groups.values()];
}

/** A task's place in its extension chain. */
export interface LineageRow {
  id: string;
  model: string;
  state: string;
  chain_depth: number;
  create_time: number;
  source_task_id: string | null;
}

const LINEAGE_COLUMNS = ['id', 'model', 'state', 'chain_depth', 'create_time', 'source_task_id'] as const;

/** The sources of a task, its own first, up to the root: one read per link, at most 21 (contract §3). */
export async function sourceChain(db: Db, sourceId: string | null): Promise<LineageRow[]> {
  const chain: LineageRow[] = [];
  const seen = new Set<string>();
  for (let id = sourceId; id !== null && !seen.has(id); ) {
    seen.add(id);
    const row = await db.kysely.selectFrom('tasks').select(LINEAGE_COLUMNS).where('id', '=', id).executeTakeFirst();
    if (!row) break;
    chain.push(row);
    id = row.source_task_id;
  }
  return chain;
}

/** The tasks that extend this one directly, oldest first. */
export async function directExtensions(db: Db, taskId: string): Promise<LineageRow[]> {
  return db.kysely.selectFrom('tasks').select(LINEAGE_COLUMNS).where('source_task_id', '=', taskId).orderBy('id').execute();
}

/** What a lineage node shows of a task (services/task-lineage.ts). */
const TREE_COLUMNS = [
  'id',
  'account_id',
  'source_task_id',
  'chain_depth',
  'model',
  'provider',
  'state',
  'input',
  'duration_ms',
  'create_time',
  'complete_time',
  'fail_code',
  'result_key',
  'poster_key',
  'deleted_at',
] as const;
export type TreeRow = Pick<Selectable<TasksTable>, (typeof TREE_COLUMNS)[number]>;

/** These tasks of the account, by id (any order). */
export async function treeRowsById(db: Db, accountId: string, ids: readonly string[]): Promise<TreeRow[]> {
  if (ids.length === 0) return [];
  return db.kysely.selectFrom('tasks').select(TREE_COLUMNS).where('account_id', '=', accountId).where('id', 'in', ids).execute();
}

/**
 * The tree under `rootId`: the root, then each level of extensions oldest first, one indexed
 * query per level (`tasks_source`; a chain is at most 21 deep, contract §3), at most `cap` rows.
 * Breadth first, so whatever a cap leaves out, every row's source is in. `more` when it left some out.
 */
export async function taskTreeRows(db: Db, accountId: string, rootId: string, cap: number): Promise<{ rows: TreeRow[]; more: boolean }> {
  const rows = await treeRowsById(db, accountId, [rootId]);
  let level = rows.map((r) => r.id);
  let more = false;
  while (level.length > 0 && !more) {
    const room = cap - rows.length;
    // By source only: with `account_id` in the WHERE the SQLite planner picks the account's
    // index and walks all its tasks. An extension's source is its own account's (submit checks
    // it); the filter after the read keeps that true whatever a row says.
    const next = (
      await db.kysely
        .selectFrom('tasks')
        .select(TREE_COLUMNS)
        .where('source_task_id', 'in', level)
        .orderBy('id')
        .limit(room + 1)
        .execute()
    ).filter((r) => r.account_id === accountId);
    if (next.length > room) {
      more = true;
      next.length = room;
    }
    rows.push(...next);
    level = next.map((r) => r.id);
  }
  return { rows, more };
}

/** A task's ledger entries (hold, then capture or release), oldest first. */
export async function taskLedger(db: Db, taskId: string) {
  return db.kysely
    .selectFrom('ledger_entries')
    .select(['id', 'kind', 'amount_micros', 'note', 'created_at'])
    .where('task_id', '=', taskId)
    .orderBy('id')
    .execute();
}

/** An account named by its id or its name (the admin API takes either). */
export async function findAccountByIdOrName(db: Db, ref: string): Promise<{ id: string; name: string } | undefined> {
  return db.kysely
    .selectFrom('accounts')
    .select(['id', 'name'])
    .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
    .orderBy(sql`case when id = ${ref} then 0 else 1 end`)
    .executeTakeFirst();
}

/** Names of these accounts, by id. */
export async function accountNames(db: Db, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db.kysely.selectFrom('accounts').select(['id', 'name']).where('id', 'in', ids).execute();
  return new Map(rows.map((r) => [r.id, r.name]));
}

/** The account of an API key (revoked ones too: their tasks remain), or undefined. */
export async function keyAccount(db: Db, keyId: string): Promise<string | undefined> {
  return (await db.kysely.selectFrom('api_keys').select('account_id').where('id', '=', keyId).executeTakeFirst())?.account_id;
}
