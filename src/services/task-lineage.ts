import type { KeySettings } from '../db/accounts-repo.js';
import { sourceChain, type TreeRow, taskTreeRows, treeRowsById } from '../db/task-list-repo.js';
import { taskRefusal } from './caller.js';
import type { Deps } from './deps.js';
import { signedFileUrl } from './task-view.js';

/** At most this many tasks in one lineage answer (docs/api.md, lineage). */
export const LINEAGE_MAX_NODES = 500;

/** Whose tree is read, and with which key's permissions: null for the operator, who reads every task. */
interface Reader {
  accountId: string;
  settings: KeySettings | null;
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

function inputFields(input: string): { prompt: string | null; mode: string | null } {
  try {
    const parsed = JSON.parse(input) as { prompt?: unknown; mode?: unknown };
    return { prompt: typeof parsed.prompt === 'string' ? parsed.prompt : null, mode: typeof parsed.mode === 'string' ? parsed.mode : null };
  } catch {
    return { prompt: null, mode: null };
  }
}

/**
 * One task of the tree, in the shape of the route's schema (http/schemas/lineage.ts, which says
 * what each field means): ids, depth, model, state, prompt, duration, times, URLs, deletion.
 */
function node(row: TreeRow, reader: Reader, deps: Pick<Deps, 'signer' | 'publicUrl' | 'config'>, now: number) {
  const base = {
    taskId: row.id,
    parentTaskId: row.source_task_id,
    depth: Number(row.chain_depth),
    model: row.model,
    createdAt: Number(row.create_time),
  };
  const empty = { state: null, mode: null, prompt: null, durationSeconds: null, completedAt: null, failCode: null, videoUrl: null, posterUrl: null };
  // Like the task list: what the key may not read is not shown, but the tree keeps its shape.
  if (reader.settings && taskRefusal(reader.settings, row) !== null) return { ...base, hidden: true, ...empty, deleted: false, deletedAt: null };
  const deleted = row.deleted_at !== null;
  const files = row.state === 'success' && !deleted;
  const expires = now + deps.config.urlTtlMs;
  return {
    ...base,
    hidden: false,
    state: row.state,
    ...inputFields(row.input),
    durationSeconds: row.state === 'success' && row.duration_ms !== null ? Number(row.duration_ms) / 1000 : null,
    completedAt: num(row.complete_time),
    failCode: row.state === 'failed' ? (row.fail_code ?? 'INTERNAL_ERROR') : null,
    videoUrl: files && row.result_key ? signedFileUrl(deps.signer, deps.publicUrl, row.result_key, expires) : null,
    posterUrl: files && row.poster_key ? signedFileUrl(deps.signer, deps.publicUrl, row.poster_key, expires) : null,
    deleted,
    deletedAt: num(row.deleted_at),
  };
}

/**
 * The whole extension tree a task belongs to: its root generation (found by following sources
 * up, the admin view's `sourceChain`) and every extension and branch under it, breadth first, at
 * most LINEAGE_MAX_NODES. The path from the root to the task asked for is always in, cap or not.
 * `taskId` must be a task the reader may read (http/task-guard.ts checked it).
 */
export async function taskLineage(deps: Pick<Deps, 'db' | 'signer' | 'publicUrl' | 'config'>, reader: Reader, taskId: string, now: number) {
  // The task itself first, the root last.
  const path = await sourceChain(deps.db, taskId);
  const rootTaskId = path.length ? path[path.length - 1]!.id : taskId;
  const tree = await taskTreeRows(deps.db, reader.accountId, rootTaskId, LINEAGE_MAX_NODES);
  const have = new Set(tree.rows.map((r) => r.id));
  const missing = path.map((s) => s.id).filter((id) => !have.has(id));
  // Past the cap: the rest of the path, each source before its extension.
  const rest = (await treeRowsById(deps.db, reader.accountId, missing)).sort((a, b) => Number(a.chain_depth) - Number(b.chain_depth));
  return {
    taskId,
    rootTaskId,
    truncated: tree.more,
    nodes: [...tree.rows, ...rest].map((r) => node(r, reader, deps, now)),
  };
}
