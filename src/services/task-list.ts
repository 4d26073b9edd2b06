import type { KeySettings } from '../db/accounts-repo.js';
import type { Db } from '../db/connect.js';
import { listTaskRows, type TaskListQuery, type TaskListRow } from '../db/task-list-repo.js';
import { isTaskId } from '../domain/ids.js';
import { isModel, MODELS, type Model } from '../domain/models.js';
import type { TaskState } from '../domain/task-state.js';
import { DAY_MS, parseDay } from '../domain/utc-days.js';
import type { Deps } from './deps.js';
import { type TaskStatus, taskStatusView } from './task-view.js';

const TASK_STATES: readonly TaskState[] = ['pending', 'processing', 'success', 'failed'];
const DEFAULT_LIST_LIMIT = 20;
const MAX_LIST_LIMIT = 100;

export type Invalid = { ok: false; status: 400; field: string; error: string };
const invalid = (field: string, error: string): Invalid => ({ ok: false, status: 400, field, error });

/** A query string as Fastify parses it: a repeated parameter is an array. */
export type Query = Record<string, string | string[] | undefined>;

/** The one value of parameter `name`, absent, or why not (given twice). Empty means absent. */
function one(q: Query, name: string): string | undefined | Invalid {
  const v = q[name];
  if (Array.isArray(v)) return invalid(name, `${name} must be given once`);
  return v === '' ? undefined : v;
}

const isInvalid = (v: unknown): v is Invalid => typeof v === 'object' && v !== null && (v as Invalid).ok === false;

/**
 * The cursor names the last task of a page; opaque to clients (base64url of the id's bytes), so
 * they keep passing back what they got instead of building their own.
 */
function encodeCursor(taskId: string): string {
  return Buffer.from(taskId, 'hex').toString('base64url');
}

/** The task id a cursor names (the keyset bound), absent, or why not. */
export function parseCursor(raw: string | undefined): string | undefined | Invalid {
  if (raw === undefined) return undefined;
  const id = /^[A-Za-z0-9_-]{22}$/.test(raw) ? Buffer.from(raw, 'base64url').toString('hex') : '';
  if (isTaskId(id) && encodeCursor(id) === raw) return id;
  return invalid('cursor', 'cursor is not one this API returned (pass nextCursor back as it is)');
}

/** What every list takes: `state`, `model`, `limit` and `cursor`. */
export interface ListParams {
  state?: TaskState;
  model?: Model;
  limit: number;
  beforeId?: string;
}

/** `limit` is 1..maxLimit in decimal digits only: Number() would also take "0x10", " 5" and "1e1". */
export function parseLimit(raw: string | undefined, maxLimit: number): number | Invalid {
  const limit = raw === undefined ? DEFAULT_LIST_LIMIT : /^\d{1,6}$/.test(raw) ? Number(raw) : Number.NaN;
  if (limit >= 1 && limit <= maxLimit) return limit;
  return invalid('limit', `limit must be a whole number from 1 to ${maxLimit} in decimal digits`);
}

export function parseState(raw: string | undefined): TaskState | undefined | Invalid {
  if (raw === undefined || (TASK_STATES as readonly string[]).includes(raw)) return raw as TaskState | undefined;
  return invalid('state', `state must be one of ${TASK_STATES.join(', ')}`);
}

export function parseModel(raw: string | undefined): Model | undefined | Invalid {
  if (raw === undefined || isModel(raw)) return raw;
  return invalid('model', `model must be one of ${MODELS.join(', ')}`);
}

export function parseListParams(q: Query): { ok: true; params: ListParams } | Invalid {
  const [state, model, limit, cursor] = ['state', 'model', 'limit', 'cursor'].map((n) => one(q, n));
  for (const v of [state, model, limit, cursor]) if (isInvalid(v)) return v;
  const s = parseState(state as string | undefined);
  if (isInvalid(s)) return s;
  const m = parseModel(model as string | undefined);
  if (isInvalid(m)) return m;
  const l = parseLimit(limit as string | undefined, MAX_LIST_LIMIT);
  if (isInvalid(l)) return l;
  const beforeId = parseCursor(cursor as string | undefined);
  if (isInvalid(beforeId)) return beforeId;
  return { ok: true, params: { limit: l, ...(s ? { state: s } : {}), ...(m ? { model: m } : {}), ...(beforeId ? { beforeId } : {}) } };
}

/** The operator's list also filters by account (id or name), key id, engine and creation dates. */
export interface AdminListParams extends ListParams {
  account?: string;
  key?: string;
  engine?: string;
  fromMs?: number;
  toMs?: number;
}

export function parseAdminListParams(q: Query): { ok: true; params: AdminListParams } | Invalid {
  const base = parseListParams(q);
  if (!base.ok) return base;
  const params: AdminListParams = { ...base.params };
  for (const name of ['account', 'key', 'engine'] as const) {
    const v = one(q, name);
    if (isInvalid(v)) return v;
    if (v !== undefined && v.length > 200) return invalid(name, `${name} is longer than 200 characters`);
    if (v !== undefined) params[name] = v;
  }
  const from = one(q, 'from');
  const to = one(q, 'to');
  if (isInvalid(from)) return from;
  if (isInvalid(to)) return to;
  const fromDay = from === undefined ? undefined : parseDay(from);
  const toDay = to === undefined ? undefined : parseDay(to);
  if (fromDay === null) return invalid('from', 'from must be a date YYYY-MM-DD (UTC)');
  if (toDay === null) return invalid('to', 'to must be a date YYYY-MM-DD (UTC)');
  if (fromDay !== undefined && toDay !== undefined && fromDay > toDay) return invalid('from', `from ${from} is after to ${to}`);
  if (fromDay !== undefined) params.fromMs = fromDay * DAY_MS;
  // Inclusive: `to` is the last day listed, so the range ends where the next day begins.
  if (toDay !== undefined) params.toMs = (toDay + 1) * DAY_MS;
  return { ok: true, params };
}

/**
 * taskRefusal (services/caller.ts) as a filter: a key lists exactly the tasks of its account whose
 * model and provider its permissions cover, whichever key made them, as every task route answers.
 */
export function readableBy(settings: KeySettings): Pick<TaskListQuery, 'models' | 'providers'> {
  return { models: settings.models, providers: settings.strategies };
}

/** One page, newest first, with the cursor of the next page (null on the last). */
export async function listTasks(db: Db, query: TaskListQuery): Promise<{ rows: TaskListRow[]; nextCursor: string | null }> {
  const { rows, more } = await listTaskRows(db, query);
  return { rows, nextCursor: more ? encodeCursor(rows[rows.length - 1]!.id) : null };
}

/** A client's list item: statusTask's `data` for the task (URLs signed now), and its model, which a client needs to poll it. */
export function clientTaskItem(row: TaskListRow, deps: Pick<Deps, 'signer' | 'publicUrl' | 'config'>, now: number): TaskStatus & { model: string } {
  return { ...taskStatusView(row, deps.signer, deps.publicUrl, now, deps.config.urlTtlMs), model: row.model };
}

/** The operator's list item: the client's, plus whose it is and what served it. */
export function adminTaskItem(row: TaskListRow, deps: Pick<Deps, 'signer' | 'publicUrl' | 'config'>, now: number, names: Map<string, string>) {
  return {
    ...clientTaskItem(row, deps, now),
    provider: row.provider,
    engine: row.engine,
    attempts: Number(row.attempts),
    accountId: row.account_id,
    accountName: names.get(row.account_id) ?? null,
    keyId: row.api_key_id,
    sourceTaskId: row.source_task_id,
    chainDepth: Number(row.chain_depth),
  };
}
