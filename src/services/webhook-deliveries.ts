import type { Db } from '../db/connect.js';
import { insertDelivery, listTaskDeliveries, redeliveryId } from '../db/deliveries-repo.js';
import { findTask, getTaskById, type TaskRow } from '../db/tasks-repo.js';
import { isTaskId } from '../domain/ids.js';

/** One attempt in the delivery log (times are Unix ms). */
interface AttemptView {
  attempt: number;
  time: number;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  /** The delivery's state after this attempt. */
  state: string;
  nextAttemptTime: number | null;
}

/** One webhook message for a task and everything that happened to it. */
export interface DeliveryView {
  /** The `webhook-id` header value, the same on every retry of this delivery. */
  webhookId: string;
  trigger: string;
  /** What the message tells: `processing`, `progress`, `success`, `failed`; null for a redelivery (the status when sent). */
  event: string | null;
  url: string;
  state: string;
  createTime: number;
  nextAttemptTime: number | null;
  completeTime: number | null;
  attempts: AttemptView[];
}

export type NotFound = { ok: false; status: 404; field: 'taskId'; error: string };
export type Refused = { ok: false; status: 400 | 409; field: 'taskId'; error: string };

/** `accountId` null is the operator (CLI), who may look at any account's task. */
async function lookupTask(db: Db, accountId: string | null, taskId: string): Promise<TaskRow | undefined> {
  if (!isTaskId(taskId)) return undefined;
  return accountId === null ? getTaskById(db, taskId) : findTask(db, accountId, taskId);
}

const notFound = (taskId: string): NotFound => ({ ok: false, status: 404, field: 'taskId', error: `no task ${taskId}` });

/** The delivery log of a task; another account's task is answered like an unknown one. */
export async function taskDeliveries(
  db: Db,
  accountId: string | null,
  taskId: string,
): Promise<{ ok: true; taskId: string; deliveries: DeliveryView[] } | NotFound> {
  const task = await lookupTask(db, accountId, taskId);
  if (!task) return notFound(taskId);
  const rows = await listTaskDeliveries(db, task.id);
  const deliveries = rows.map((d) => ({
    webhookId: d.id,
    trigger: d.trigger,
    // Rows from before events existed are the task's end.
    event: d.event ?? (d.trigger === 'settle' ? task.state : null),
    url: d.url,
    state: d.state,
    createTime: Number(d.created_at),
    nextAttemptTime: d.next_attempt_at === null ? null : Number(d.next_attempt_at),
    completeTime: d.completed_at === null ? null : Number(d.completed_at),
    attempts: d.log.map((a) => ({
      attempt: Number(a.attempt),
      time: Number(a.started_at),
      statusCode: a.status_code === null ? null : Number(a.status_code),
      durationMs: Number(a.duration_ms),
      error: a.error,
      state: a.outcome,
      nextAttemptTime: a.next_attempt_at === null ? null : Number(a.next_attempt_at),
    })),
  }));
  return { ok: true, taskId: task.id, deliveries };
}

/**
 * Queues a new delivery (a new `webhook-id`, a fresh retry schedule) of a finished callback task.
 * The payload is built when it is sent, so it carries the task's current view. One redelivery
 * per task may be pending at a time: redelivery costs nothing, and without the limit a client
 * could make this server flood any public URL it names as `callback_url`.
 */
export async function redeliverTask(
  db: Db,
  accountId: string | null,
  taskId: string,
  now: number,
): Promise<{ ok: true; taskId: string; webhookId: string } | NotFound | Refused> {
  const task = await lookupTask(db, accountId, taskId);
  if (!task) return notFound(taskId);
  if (task.request_type !== 'callback' || !task.callback_url) {
    return { ok: false, status: 400, field: 'taskId', error: `task ${taskId} was not submitted with request_type callback and a callback_url` };
  }
  if (task.state !== 'success' && task.state !== 'failed') {
    return { ok: false, status: 400, field: 'taskId', error: `task ${taskId} is ${task.state}; only a finished task (success or failed) can be redelivered` };
  }
  const id = redeliveryId(now);
  const queued = await db.writeTx(async (trx) => {
    const pending = await trx
      .selectFrom('webhook_deliveries')
      .select('id')
      .where('task_id', '=', task.id)
      .where('trigger', '=', 'redeliver')
      .where('state', '=', 'pending')
      .executeTakeFirst();
    if (pending) return false;
    await insertDelivery(trx, { id, taskId: task.id, accountId: task.account_id, url: task.callback_url!, trigger: 'redeliver', now });
    return true;
  });
  if (!queued) {
    return { ok: false, status: 409, field: 'taskId', error: `a redelivery of task ${taskId} is still pending; wait until it is delivered or failed` };
  }
  return { ok: true, taskId: task.id, webhookId: id };
}
