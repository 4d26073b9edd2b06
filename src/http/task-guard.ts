import { findTaskStatus, type TaskStatusRow } from '../db/tasks-repo.js';
import { isTaskId } from '../domain/ids.js';
import { type Caller, taskRefusal } from '../services/caller.js';
import type { Deps } from '../services/deps.js';
import { ApiError } from './api-error.js';

/**
 * The task a route names, if the caller may act on it. Every route that takes a task id goes
 * through here (the status fast path and an extend's source ask `taskRefusal` itself, the same
 * question): another account's task, an unknown one and a malformed id are the same 404, so
 * nothing tells them apart; a task of the account that the key's permissions do not cover
 * (model or provider) is a 403, as statusTask answers for a model the key may not use.
 * `model` is the model the route names, if any: a task of another model is then a 404 too.
 */
export async function guardedTask(deps: Deps, caller: Caller, taskId: string, model?: string): Promise<TaskStatusRow> {
  const row = isTaskId(taskId) ? await findTaskStatus(deps.db, caller.accountId, taskId) : undefined;
  if (!row || (model !== undefined && row.model !== model)) {
    throw new ApiError(404, { error: `no ${model === undefined ? '' : `${model} `}task ${taskId}`, field: 'taskId' });
  }
  const refusal = taskRefusal(caller.settings, row);
  if (refusal !== null) throw new ApiError(403, { error: refusal, field: 'taskId' });
  return row;
}
