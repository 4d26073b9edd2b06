import { randomInt } from 'node:crypto';
import { newTaskId } from '../domain/ids.js';
import { MAX_CHAIN_EXTENSIONS, type ExtendInput, type Model } from '../domain/models.js';
import { MAX_SEED, validateSubmit } from '../domain/validate-submit.js';
import { insertTask, findTask, type TaskRow } from '../db/tasks-repo.js';
import { getBalance, placeHold } from '../db/ledger-repo.js';
import { microsToUsd } from '../domain/money.js';
import { checkPublicUrl } from '../net/guarded-http.js';
import type { Deps } from './deps.js';

export interface Caller {
  accountId: string;
  keyId: string;
}

/** Expected refusals are values, not exceptions; the HTTP edge renders them. */
export type SubmitOutcome =
  | { ok: true; taskId: string }
  | { ok: false; status: 400; field: string; error: string; failCode?: 'TASKID_ERROR' }
  | { ok: false; status: 402; error: string; requiredUsd: number; availableUsd: number };

/**
 * Accepts a task: validates the body, checks an extend's source, then in ONE transaction places
 * the hold and writes the task row (which is also the queue entry), and wakes a worker.
 */
export async function submitTask(deps: Deps, caller: Caller, model: Model, body: unknown): Promise<SubmitOutcome> {
  const allowPrivate = deps.config.allowPrivateCallbacks;
  const parsed = validateSubmit(model, body, () => randomInt(0, MAX_SEED), { allowHttpCallback: allowPrivate });
  if (!parsed.ok) return { ok: false, status: 400, field: parsed.field, error: parsed.error, ...(parsed.failCode ? { failCode: parsed.failCode } : {}) };
  const req = parsed.value;
  if (req.callbackUrl !== null) {
    // CONTRACT.md §5: https and only public addresses; checked again at every connection.
    const lookup = deps.callbackTransport?.lookup;
    const check = await checkPublicUrl(req.callbackUrl, { allowPrivate, requireHttps: true, ...(lookup ? { lookup } : {}) });
    if (!check.ok) return { ok: false, status: 400, field: 'callback_url', error: `callback_url is refused: ${check.reason}` };
  }

  const now = deps.clock.now();
  let chainDepth = 0;
  let sourceId: string | null = null;
  if (model === 'veo-3-1-extend') {
    const source = await usableSource(deps, caller.accountId, req.input as ExtendInput, now);
    if (!source.ok) return { ok: false, status: 400, field: 'input.taskId', error: source.error, failCode: 'TASKID_ERROR' };
    chainDepth = source.task.chain_depth + 1;
    sourceId = source.task.id;
  }

  const price = deps.config.prices[model][req.input.mode];
  const id = newTaskId(now);
  const row: TaskRow = {
    id,
    account_id: caller.accountId,
    api_key_id: caller.keyId,
    model,
    state: 'pending',
    request_type: req.requestType,
    callback_url: req.callbackUrl,
    provider: req.provider ?? 'auto',
    input: JSON.stringify(req.input),
    source_task_id: sourceId,
    chain_depth: chainDepth,
    price_micros: price,
    create_time: now,
    start_time: null,
    complete_time: null,
    fail_code: null,
    fail_msg: null,
    attempts: 0,
    run_after: now,
    lease_token: null,
    lease_expires_at: null,
    engine: null,
    result_key: null,
    poster_key: null,
    result_size: null,
    result_etag: null,
    duration_ms: null,
    width: null,
    height: null,
    expires_at: null,
    deleted_at: null,
  };
  const held = await deps.db.writeTx(async (trx) => {
    if (!(await placeHold(trx, caller.accountId, id, price, now))) return false;
    await insertTask(trx, row);
    return true;
  });
  if (!held) {
    const balance = await getBalance(deps.db, caller.accountId);
    return {
      ok: false,
      status: 402,
      error: 'the available balance does not cover the price of this task',
      requiredUsd: microsToUsd(price),
      availableUsd: microsToUsd(balance?.availableMicros ?? 0),
    };
  }
  deps.wakeWorkers();
  return { ok: true, taskId: id };
}

type SourceCheck = { ok: true; task: TaskRow } | { ok: false; error: string };

/** CONTRACT.md §3: the source must be this account's finished video that is still retained. */
export async function usableSource(deps: Deps, accountId: string, input: ExtendInput, now: number): Promise<SourceCheck> {
  const task = await findTask(deps.db, accountId, input.taskId);
  if (!task) return { ok: false, error: 'input.taskId does not name a task of this account' };
  if (task.state !== 'success') return { ok: false, error: `input.taskId names a task in state ${task.state}; only a successful task can be extended` };
  if (!task.result_key || task.deleted_at !== null || (task.expires_at !== null && task.expires_at <= now)) {
    return { ok: false, error: 'input.taskId names a task whose video is no longer retained' };
  }
  if (task.chain_depth >= MAX_CHAIN_EXTENSIONS) {
    return { ok: false, error: `input.taskId is already extended ${MAX_CHAIN_EXTENSIONS} times; a chain can be extended at most ${MAX_CHAIN_EXTENSIONS} times` };
  }
  return { ok: true, task };
}
