import { randomInt } from 'node:crypto';
import type { Kysely } from 'kysely';
import { findIdempotent, rememberIdempotent } from '../db/idempotency-repo.js';
import { chargeKeySpend, keySpendNow } from '../db/key-spend-repo.js';
import { getBalance, placeHold } from '../db/ledger-repo.js';
import { type BatchOutcome, batchSubmitter } from '../db/pg-submit-batch.js';
import type { Database } from '../db/schema.js';
import { countUnfinished, findTask, insertTask, lockKey, type TaskRow } from '../db/tasks-repo.js';
import { type BudgetPeriod, budgetWindow } from '../domain/budget.js';
import { storedCallbackEvents } from '../domain/callback-events.js';
import { newTaskId } from '../domain/ids.js';
import { exceedsJsonDepth, MAX_JSON_DEPTH } from '../domain/json-depth.js';
import { type ExtendInput, MAX_CHAIN_EXTENSIONS, type Model } from '../domain/models.js';
import { microsToUsd } from '../domain/money.js';
import { MAX_SEED, validateSubmit } from '../domain/validate-submit.js';
import { checkPublicUrl } from '../net/guarded-http.js';
import { type Caller, effectiveLimits, mayUseModel, mayUseStrategy, taskRefusal } from './caller.js';
import type { Deps } from './deps.js';
import { extendableOnRoute } from './extendable.js';
import { IDEMPOTENCY_WINDOW_MS, requestHash } from './idempotency.js';

/** Expected refusals are values, not exceptions; the HTTP edge renders them. */
export type SubmitOutcome =
  | { ok: true; taskId: string; replayed: boolean }
  | { ok: false; status: 400; field: string; error: string; failCode?: 'TASKID_ERROR' }
  | { ok: false; status: 402; error: string; requiredUsd: number; availableUsd: number; budget?: BudgetRefusal }
  | { ok: false; status: 403; error: string; field?: string }
  | { ok: false; status: 422; error: string; field: 'Idempotency-Key' }
  | { ok: false; status: 429; error: string; retryAfter: number };

/** Why the key's budget refused a submit (docs/errors.md, 402 `data.budget`); USD and Unix ms. */
interface BudgetRefusal {
  keyId: string;
  limit: number;
  period: BudgetPeriod;
  /** Held and captured by the key's tasks in this period. */
  spent: number;
  periodStart: number;
  /** When the next period starts and the budget renews. */
  resetTime: number;
}

/** Seconds a client is told to wait when its unfinished-task limit is reached. */
const UNFINISHED_RETRY_AFTER_S = 10;

/** Aborts the submit transaction, rolling back the hold it placed: the key's budget refused it. */
class Refused extends Error {
  constructor(readonly outcome: 'over budget') {
    super('refused');
  }
}

/**
 * Accepts a task: bounds the body's nesting, checks the key's permissions, replays a known
 * Idempotency-Key, validates the body and an extend's source, then in ONE transaction checks the
 * unfinished-task limit, places the hold, charges the key's budget, writes the task row (which is
 * also the queue entry) and remembers the Idempotency-Key, and wakes a worker.
 */
export async function submitTask(deps: Deps, caller: Caller, model: Model, body: unknown, opts: { idempotencyKey?: string } = {}): Promise<SubmitOutcome> {
  // First, before anything walks the body (the fingerprint below, validation): a body can be
  // nested hundreds of thousands of levels deep within the size limit.
  if (exceedsJsonDepth(body, MAX_JSON_DEPTH)) {
    return { ok: false, status: 400, field: 'body', error: `the body is nested too deeply (more than ${MAX_JSON_DEPTH} levels)` };
  }
  if (!mayUseModel(caller.settings, model)) return { ok: false, status: 403, error: `this API key may not use model ${model}` };
  const now = deps.clock.now();
  const since = now - IDEMPOTENCY_WINDOW_MS;
  const idemKey = opts.idempotencyKey;
  const hash = idemKey === undefined ? '' : requestHash(model, body);
  if (idemKey !== undefined) {
    const known = await replay(deps, caller, idemKey, hash, since);
    if (known) return known;
  }

  const allowPrivate = deps.config.allowPrivateCallbacks;
  const parsed = validateSubmit(model, body, () => randomInt(0, MAX_SEED), { allowHttpCallback: allowPrivate });
  if (!parsed.ok) return { ok: false, status: 400, field: parsed.field, error: parsed.error, ...(parsed.failCode ? { failCode: parsed.failCode } : {}) };
  const req = parsed.value;
  const strategy = req.provider ?? caller.settings.defaultStrategy ?? 'auto';
  if (!mayUseStrategy(caller.settings, strategy)) {
    return { ok: false, status: 403, field: 'provider', error: `this API key may not use provider ${strategy}` };
  }
  if (req.callbackUrl !== null) {
    // docs/contract.md §5: https and only public addresses; checked again at every connection.
    const lookup = deps.callbackTransport?.lookup;
    const check = await checkPublicUrl(req.callbackUrl, { allowPrivate, requireHttps: true, ...(lookup ? { lookup } : {}) });
    if (!check.ok) return { ok: false, status: 400, field: 'callback_url', error: `callback_url is refused: ${check.reason}` };
  }

  let chainDepth = 0;
  let sourceId: string | null = null;
  if (model === 'veo-3-1-extend') {
    const source = await usableSource(deps, caller, req.input as ExtendInput, now);
    if (!source.ok && source.status === 403) return { ok: false, status: 403, field: 'input.taskId', error: source.error };
    if (!source.ok) return { ok: false, status: 400, field: 'input.taskId', error: source.error, failCode: 'TASKID_ERROR' };
    if (!(await extendableOnRoute(deps, strategy, source.task, now))) {
      const error = `input.taskId names a video that no engine of provider ${strategy} can extend any more (an upstream keeps its videos for a limited time)`;
      return { ok: false, status: 400, field: 'input.taskId', error, failCode: 'TASKID_ERROR' };
    }
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
    callback_events: storedCallbackEvents(req.callbackEvents),
    progress_event_at: null,
    provider: strategy,
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
    delete_reason: null,
    progress: null,
  };
  const { maxUnfinished } = effectiveLimits(caller.settings, deps.config);
  // Expected refusals found before anything is written are returned, not thrown: on PostgreSQL
  // the submit shares a group commit (db/group-commit.ts), where a throw rolls the batch back and
  // runs the others again. Only a refusal after a write throws, to roll that write back. The
  // function may run more than once, so it only touches the transaction.
  const budget = caller.settings.budgetMicros > 0 ? { micros: caller.settings.budgetMicros, period: caller.settings.budgetPeriod } : null;
  const atLimit: SubmitOutcome = {
    ok: false,
    status: 429,
    error: `this API key has ${maxUnfinished} unfinished tasks, its limit; wait for one to finish`,
    retryAfter: UNFINISHED_RETRY_AFTER_S,
  };
  const submitTx = async (trx: Kysely<Database>): Promise<SubmitOutcome | 'short balance' | null> => {
    if (maxUnfinished > 0) {
      // Serialises this key's submits (SQLite's write lock already does), so the count is exact.
      if (deps.db.dialect === 'postgres') await lockKey(trx, caller.keyId);
      if ((await countUnfinished(trx, caller.keyId)) >= maxUnfinished) return atLimit;
    }
    // The balance row before the key's budget row, the order settling takes them in
    // (settle-task.ts), so a submit and a release cannot deadlock on PostgreSQL.
    if (!(await placeHold(trx, caller.accountId, id, price, now))) return 'short balance';
    // Only a budgeted key pays this statement; its row lock (PostgreSQL) serialises the key's submits.
    if (budget && !(await chargeKeySpend(trx, caller.keyId, budget, price, now))) throw new Refused('over budget');
    await insertTask(trx, row);
    if (idemKey !== undefined) await rememberIdempotent(trx, caller.keyId, idemKey, hash, id, now, since);
    return null;
  };
  // One lane per account: its submits share batches instead of queueing on its balance row; a
  // batch orders them by key too, as lockKey takes the key's row (no deadlock between batches).
  const perJob = () => deps.db.writeTx(submitTx, { lane: caller.accountId, order: caller.keyId });
  // On PostgreSQL: set-based batches (db/pg-submit-batch.ts).
  const batched = deps.db.dialect === 'postgres';
  let refusal: SubmitOutcome | 'short balance' | 'over budget' | null;
  try {
    if (batched) {
      const alone = async (): Promise<BatchOutcome> => {
        try {
          const r = await perJob();
          return r === null ? 'accepted' : r === 'short balance' ? r : 'limit';
        } catch (err) {
          if (err instanceof Refused) return err.outcome;
          throw err;
        }
      };
      const extras = {
        maxUnfinished,
        ...(idemKey !== undefined ? { idem: { key: idemKey, hash, windowMs: IDEMPOTENCY_WINDOW_MS } } : {}),
        ...(budget ? { budget: { ...budget, ...budgetWindow(budget.period, now) } } : {}),
      };
      const outcome = await batchSubmitter(deps.db)(row, alone, extras);
      // A current record of the key: answer as that submit did (its record is committed).
      if (outcome === 'duplicate') return (await replay(deps, caller, idemKey!, hash, since)) ?? (await submitTask(deps, caller, model, body, opts));
      refusal = outcome === 'accepted' ? null : outcome === 'limit' ? atLimit : outcome;
    } else {
      refusal = await perJob();
    }
  } catch (err) {
    if (!(err instanceof Refused)) {
      // A concurrent submit with the same Idempotency-Key committed first: answer as it did.
      const known = idemKey === undefined ? undefined : await replay(deps, caller, idemKey, hash, since);
      if (known) return known;
      throw err;
    }
    refusal = err.outcome;
  }
  // The balance is read after the rollback: on SQLite the transaction holds the only connection.
  if (refusal === 'short balance') return shortBalance(deps, caller, price);
  if (refusal === 'over budget') return overBudget(deps, caller, price, now);
  if (refusal !== null) return refusal;
  deps.wakeWorkers();
  deps.metrics.taskSubmitted(model, req.input.mode);
  return { ok: true, taskId: id, replayed: false };
}

async function replay(deps: Deps, caller: Caller, idemKey: string, hash: string, since: number): Promise<SubmitOutcome | undefined> {
  const known = await findIdempotent(deps.db, caller.keyId, idemKey, since);
  if (!known) return undefined;
  if (known.request_hash !== hash) {
    return { ok: false, status: 422, field: 'Idempotency-Key', error: 'this Idempotency-Key was used with a different request in the last 24 h' };
  }
  return { ok: true, taskId: known.task_id, replayed: true };
}

async function shortBalance(deps: Deps, caller: Caller, price: number): Promise<SubmitOutcome> {
  const balance = await getBalance(deps.db, caller.accountId);
  return {
    ok: false,
    status: 402,
    error: 'the available balance does not cover the price of this task',
    requiredUsd: microsToUsd(price),
    availableUsd: microsToUsd(balance?.availableMicros ?? 0),
  };
}

/** The 402 of a key's budget: the balance's 402 (same failCode), with `budget` saying which limit it was. */
async function overBudget(deps: Deps, caller: Caller, price: number, now: number): Promise<SubmitOutcome> {
  const { budgetMicros, budgetPeriod } = caller.settings;
  const spent = await keySpendNow(deps.db, caller.keyId, budgetPeriod, now);
  const balance = await getBalance(deps.db, caller.accountId);
  const window = budgetWindow(budgetPeriod, now);
  const usd = (micros: number) => `$${microsToUsd(micros).toFixed(2)}`;
  return {
    ok: false,
    status: 402,
    error: `this API key's budget of ${usd(budgetMicros)} per ${budgetPeriod} would be exceeded (${usd(spent)} spent or held; this task costs ${usd(price)})`,
    requiredUsd: microsToUsd(price),
    availableUsd: microsToUsd(balance?.availableMicros ?? 0),
    budget: {
      keyId: caller.keyId,
      limit: microsToUsd(budgetMicros),
      period: budgetPeriod,
      spent: microsToUsd(spent),
      periodStart: window.start,
      resetTime: window.end,
    },
  };
}

type SourceCheck = { ok: true; task: TaskRow } | { ok: false; status: 400 | 403; error: string };

/**
 * docs/contract.md §3: the source must be this account's finished video that is still retained. The
 * extension carries the whole source, so the key must be allowed the source task like any route
 * that names a task (403, asked before its state so that is not told either).
 */
async function usableSource(deps: Deps, caller: Caller, input: ExtendInput, now: number): Promise<SourceCheck> {
  const task = await findTask(deps.db, caller.accountId, input.taskId);
  if (!task) return { ok: false, status: 400, error: 'input.taskId does not name a task of this account' };
  const refusal = taskRefusal(caller.settings, task);
  if (refusal !== null) return { ok: false, status: 403, error: `input.taskId: ${refusal}` };
  if (task.state !== 'success')
    return { ok: false, status: 400, error: `input.taskId names a task in state ${task.state}; only a successful task can be extended` };
  if (task.delete_reason === 'request') {
    return { ok: false, status: 400, error: 'input.taskId names a task that was deleted (DELETE /api/v1/tasks/{taskId}); its video is gone' };
  }
  if (!task.result_key || task.deleted_at !== null || (task.expires_at !== null && task.expires_at <= now)) {
    return { ok: false, status: 400, error: 'input.taskId names a task whose video is no longer retained' };
  }
  if (task.chain_depth >= MAX_CHAIN_EXTENSIONS) {
    return {
      ok: false,
      status: 400,
      error: `input.taskId is already extended ${MAX_CHAIN_EXTENSIONS} times; a chain can be extended at most ${MAX_CHAIN_EXTENSIONS} times`,
    };
  }
  return { ok: true, task };
}
