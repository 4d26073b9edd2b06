import { accountNames, directExtensions, type LineageRow, sourceChain, taskLedger } from '../db/task-list-repo.js';
import { getTaskById } from '../db/tasks-repo.js';
import { getUpstream } from '../db/upstream-repo.js';
import { isTaskId } from '../domain/ids.js';
import { microsToUsd } from '../domain/money.js';
import type { Deps } from './deps.js';
import { taskStatusView } from './task-view.js';
import { taskDeliveries } from './webhook-deliveries.js';

const ms = (v: number | string | null): number | null => (v === null ? null : Number(v));

const lineageItem = (r: LineageRow) => ({
  taskId: r.id,
  model: r.model,
  state: r.state,
  chainDepth: Number(r.chain_depth),
  createTime: Number(r.create_time),
});

/**
 * Everything the service knows of one task, for the operator (GET /admin/v1/tasks/{taskId}):
 * the status view its client sees, whose it is, what served it (engine, the upstream's job id
 * and video handle), its times and attempts, its ledger entries, its webhook deliveries with
 * every attempt, and its lineage. Times are Unix ms, money USD. Undefined for an unknown task.
 */
export async function taskDetail(deps: Pick<Deps, 'db' | 'signer' | 'publicUrl' | 'config'>, taskId: string, now: number) {
  if (!isTaskId(taskId)) return undefined;
  const task = await getTaskById(deps.db, taskId);
  if (!task) return undefined;
  const [names, upstream, ledger, deliveries, sources, extensions] = await Promise.all([
    accountNames(deps.db, [task.account_id]),
    getUpstream(deps.db, task.id),
    taskLedger(deps.db, task.id),
    taskDeliveries(deps.db, null, task.id),
    sourceChain(deps.db, task.source_task_id),
    directExtensions(deps.db, task.id),
  ]);
  let input: unknown = task.input;
  try {
    input = JSON.parse(task.input);
  } catch {
    // Stored by submit as JSON; should an old row hold something else, it is shown as it is.
  }
  return {
    status: taskStatusView(task, deps.signer, deps.publicUrl, now, deps.config.urlTtlMs),
    model: task.model,
    account: { id: task.account_id, name: names.get(task.account_id) ?? null },
    keyId: task.api_key_id,
    provider: task.provider,
    engine: task.engine,
    requestType: task.request_type,
    callbackUrl: task.callback_url,
    input,
    priceUsd: microsToUsd(Number(task.price_micros)),
    attempts: Number(task.attempts),
    times: {
      createTime: Number(task.create_time),
      startTime: ms(task.start_time),
      completeTime: ms(task.complete_time),
      runAfter: Number(task.run_after),
      leaseExpiresAt: ms(task.lease_expires_at),
      expiresAt: ms(task.expires_at),
      deletedAt: ms(task.deleted_at),
    },
    result:
      task.result_key === null
        ? null
        : {
            durationMs: ms(task.duration_ms),
            width: ms(task.width),
            height: ms(task.height),
            sizeBytes: ms(task.result_size),
            etag: task.result_etag,
          },
    upstream: upstream
      ? {
          engine: upstream.engine,
          jobId: upstream.ref,
          video: upstream.video,
          updatedAt: Number(upstream.updated_at),
          // A job given up on (TIMEOUT) that finished anyway: `completed` is work the upstream may
          // bill that the client was not charged for (docs/operations.md, unknown upstream outcomes).
          lateOutcome: upstream.late_outcome === null ? null : { outcome: upstream.late_outcome, at: Number(upstream.late_outcome_at) },
        }
      : null,
    // In the shape of the account's own ledger route (/api/v1/account/ledger): `amount` in USD.
    ledger: ledger.map((e) => ({
      id: String(e.id),
      kind: e.kind,
      amount: microsToUsd(Number(e.amount_micros)),
      note: e.note,
      createTime: Number(e.created_at),
    })),
    webhooks: deliveries.ok ? deliveries.deliveries : [],
    lineage: {
      chainDepth: Number(task.chain_depth),
      // The task's source first, the root (a veo-3-1 generation) last.
      sources: sources.map(lineageItem),
      rootTaskId: sources.length ? sources[sources.length - 1]!.id : task.id,
      extensions: extensions.map(lineageItem),
    },
  };
}
