import { randomUUID } from 'node:crypto';
import { findKeyByHash, hashApiKey } from '../../src/db/accounts-repo.js';
import { claimNextTask } from '../../src/db/claim-task.js';
import { insertTask, type SuccessFields, type TaskRow } from '../../src/db/tasks-repo.js';
import { newTaskId } from '../../src/domain/ids.js';
import type { FailCode } from '../../src/domain/task-state.js';
import { settleFailure, settleSuccess } from '../../src/services/settle-task.js';
import type { TestService } from './service.js';

/** The account and key id behind an API key. */
export async function keyOf(t: TestService, key: string): Promise<{ accountId: string; keyId: string }> {
  const row = (await findKeyByHash(t.service.deps.db, hashApiKey(key)))!;
  return { accountId: row.account_id, keyId: row.id };
}

/** Submits a task over HTTP (with workers off it stays pending) and returns its id. */
export async function submit(t: TestService, key: string, model: 'veo-3-1' | 'veo-3-1-extend', input: object, extra: object = {}): Promise<string> {
  const res = await t.api('POST', `/api/v1/generateTask/${model}`, { key, body: { input, ...extra } });
  if (res.status !== 200) throw new Error(`submit answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body.data.taskId;
}

/**
 * Ends pending task `id` the way a worker does: claim it with a lease, then settle it (capture or
 * release the hold, write the outbox row) at the service's clock. Only one task may be pending.
 */
export async function finish(
  t: TestService,
  id: string,
  outcome: { durationMs: number; engine?: string } | { failCode: FailCode; engine?: string },
): Promise<void> {
  const deps = t.service.deps;
  const token = randomUUID();
  const task = await claimNextTask(deps.db, deps.clock.now(), 30_000, token);
  if (task?.id !== id) throw new Error(`claimed ${task?.id ?? 'nothing'}, not ${id}: another task is pending`);
  const engine = outcome.engine ?? 'local';
  const won =
    'failCode' in outcome
      ? await settleFailure(deps, task, token, outcome.failCode, 'failed in a test', engine)
      : await settleSuccess(deps, task, token, successFields(id, deps.clock.now(), { engine, result_etag: '"1"', duration_ms: outcome.durationMs }));
  if (!won) throw new Error(`task ${id} did not settle`);
}

/** What a worker settles task `id` with when its render succeeded at `now` (an 8 s 1280×720 MP4, kept a day). */
export function successFields(id: string, now: number, fields: Partial<SuccessFields> = {}): SuccessFields {
  return {
    engine: 'local',
    result_key: `results/${id}.mp4`,
    poster_key: `results/${id}.jpg`,
    result_size: 1,
    result_etag: '"e"',
    duration_ms: 8000,
    width: 1280,
    height: 720,
    expires_at: now + 86_400_000,
    ...fields,
  };
}

/** A task row written through the repository (any state and times, no render), for lists and lineage. */
export async function insertRow(t: TestService, owner: { accountId: string; keyId: string }, fields: Partial<TaskRow> = {}): Promise<string> {
  const row = taskRow(owner, fields.create_time ?? t.service.deps.clock.now(), fields);
  await t.service.deps.db.writeTx((trx) => insertTask(trx, row));
  return row.id;
}

/** A whole task row of `owner` made at `now` (by default a finished success), with `fields` on top. */
export function taskRow(owner: { accountId: string; keyId: string }, now: number, fields: Partial<TaskRow> = {}): TaskRow {
  const id = fields.id ?? newTaskId(now);
  const success = (fields.state ?? 'success') === 'success';
  return {
    id,
    account_id: owner.accountId,
    api_key_id: owner.keyId,
    model: 'veo-3-1',
    state: 'success',
    request_type: 'async',
    callback_url: null,
    callback_events: null,
    progress_event_at: null,
    provider: 'auto',
    input: '{"prompt":"a row"}',
    source_task_id: null,
    chain_depth: 0,
    price_micros: 0,
    create_time: now,
    start_time: now,
    complete_time: success ? now + 1000 : null,
    fail_code: null,
    fail_msg: null,
    attempts: 1,
    run_after: now,
    lease_token: null,
    lease_expires_at: null,
    engine: success ? 'local' : null,
    result_key: success ? `results/${id}.mp4` : null,
    poster_key: success ? `results/${id}.jpg` : null,
    result_size: success ? 1 : null,
    result_etag: success ? '"1"' : null,
    duration_ms: success ? 8000 : null,
    width: success ? 1280 : null,
    height: success ? 720 : null,
    expires_at: success ? now + 86_400_000 : null,
    deleted_at: null,
    delete_reason: null,
    progress: null,
    ...fields,
  };
}

/** Freezes the service's clock (signed URLs then match between two reads) and returns the undo. */
export function freezeClock(t: TestService): () => void {
  const clock = t.service.deps.clock;
  const at = clock.now();
  t.service.deps.clock = { now: () => at };
  return () => {
    t.service.deps.clock = clock;
  };
}
