import { enqueueRunningEvent } from '../db/deliveries-repo.js';
import { findTaskStatus, type TaskRow } from '../db/tasks-repo.js';
import { PROGRESS_EVENT_INTERVAL_MS, wantsEvent } from '../domain/callback-events.js';
import type { Deps } from './deps.js';
import { queueFields } from './task-progress.js';
import { statusResponseJson, taskStatusView } from './task-view.js';

/**
 * Webhook events of a running task, for callback tasks that asked for them in `callback_events`
 * (docs/webhooks.md, events). The task's end is queued by the settle, in its transaction; these
 * are best effort beside the work: a failure to queue one is logged and never fails the task.
 */

type Subject = Pick<TaskRow, 'id' | 'account_id' | 'request_type' | 'callback_url' | 'callback_events'>;

const wants = (t: Subject, event: 'processing' | 'progress'): t is Subject & { callback_url: string } =>
  t.request_type === 'callback' && t.callback_url !== null && wantsEvent(t.callback_events, event);

/** The task started processing. Queued once per task whatever the number of attempts. */
export async function sendProcessingEvent(deps: Deps, task: Subject): Promise<void> {
  if (!wants(task, 'processing')) return;
  await queue(deps, task, 'processing', `msg_${task.id}_processing`);
}

/**
 * The task's progress moved. At most one event per task per PROGRESS_EVENT_INTERVAL_MS, across
 * processes: the slot is taken by a compare-and-set on the task row.
 */
export async function sendProgressEvent(deps: Deps, task: Subject): Promise<void> {
  if (!wants(task, 'progress')) return;
  const now = deps.clock.now();
  const res = await deps.db.kysely
    .updateTable('tasks')
    .set({ progress_event_at: now })
    .where('id', '=', task.id)
    .where('state', '=', 'processing')
    .where((eb) => eb.or([eb('progress_event_at', 'is', null), eb('progress_event_at', '<=', now - PROGRESS_EVENT_INTERVAL_MS)]))
    .executeTakeFirst();
  if (Number(res.numUpdatedRows) === 0) return;
  await queue(deps, task, 'progress', `msg_${task.id}_progress_${now}`);
}

async function queue(deps: Deps, task: Subject & { callback_url: string }, event: 'processing' | 'progress', id: string): Promise<void> {
  try {
    const row = await findTaskStatus(deps.db, task.account_id, task.id, { fresh: true });
    if (!row) return;
    const now = deps.clock.now();
    // With progress and etaSeconds as a status read would show them now.
    const payload = statusResponseJson(taskStatusView(row, deps.signer, deps.publicUrl, now, deps.config.urlTtlMs, await queueFields(deps, row)));
    const queued = await enqueueRunningEvent(deps.db, { id, taskId: task.id, accountId: task.account_id, url: task.callback_url, event, payload, now });
    if (queued) deps.wakeWebhooks();
  } catch (err) {
    deps.log.error({ err, taskId: task.id, event }, 'could not queue a webhook event');
  }
}
