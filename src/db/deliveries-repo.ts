import { randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { newTaskId } from '../domain/ids.js';
import type { Db } from './connect.js';
import type { Database, WebhookAttemptsTable, WebhookDeliveriesTable } from './schema.js';

export type DeliveryRow = Selectable<WebhookDeliveriesTable>;
export type AttemptRow = Selectable<WebhookAttemptsTable>;
export type DeliveryTrigger = 'settle' | 'redeliver';

/**
 * The `webhook-id` of a task's automatic delivery. Derived from the task id, so the outbox row
 * cannot be written twice for one task (the primary key refuses it) and receivers can dedupe.
 * Redeliveries get fresh ids: they are new messages the client asked for.
 */
function settleDeliveryId(taskId: string): string {
  return `msg_${taskId}`;
}

export function redeliveryId(now: number): string {
  return `msg_${newTaskId(now)}`;
}

export async function insertDelivery(
  trx: Kysely<Database>,
  d: { id: string; taskId: string; accountId: string; url: string; trigger: DeliveryTrigger; now: number },
): Promise<void> {
  await trx
    .insertInto('webhook_deliveries')
    .values({
      id: d.id,
      task_id: d.taskId,
      account_id: d.accountId,
      url: d.url,
      trigger: d.trigger,
      state: 'pending',
      attempts: 0,
      next_attempt_at: d.now,
      lease_token: null,
      lease_expires_at: null,
      created_at: d.now,
      completed_at: null,
      last_status: null,
      last_error: null,
    })
    .execute();
}

/**
 * The outbox write: call inside the transaction that ends the task. If the task asked for a
 * callback, its delivery row is inserted, so a crash after the commit still delivers (the sender
 * finds the row on restart) and a rollback delivers nothing. Returns whether a row was written.
 */
export async function enqueueTaskCallback(trx: Kysely<Database>, taskId: string, now: number): Promise<boolean> {
  const task = await trx.selectFrom('tasks').select(['account_id', 'request_type', 'callback_url']).where('id', '=', taskId).executeTakeFirst();
  if (task?.request_type !== 'callback' || !task.callback_url) return false;
  await insertDelivery(trx, { id: settleDeliveryId(taskId), taskId, accountId: task.account_id, url: task.callback_url, trigger: 'settle', now });
  return true;
}

/**
 * Claims the earliest due delivery with a lease. A row is claimable when it is pending, due, and
 * not leased (or its lease ran out: the sender holding it died). The outer WHERE repeats the
 * conditions, so two senders can never both win a row; on PostgreSQL the inner SELECT skips rows
 * another transaction is claiming.
 */
export async function claimDueDelivery(db: Db, now: number, leaseMs: number, leaseToken: string): Promise<DeliveryRow | undefined> {
  return db.kysely
    .updateTable('webhook_deliveries')
    .set({ lease_token: leaseToken, lease_expires_at: now + leaseMs })
    .where('state', '=', 'pending')
    .where('next_attempt_at', '<=', now)
    .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now)]))
    .where('id', '=', (eb) => {
      let q = eb
        .selectFrom('webhook_deliveries')
        .select('id')
        .where('state', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .where((e) => e.or([e('lease_expires_at', 'is', null), e('lease_expires_at', '<', now)]))
        .orderBy('next_attempt_at')
        .orderBy('id')
        .limit(1);
      if (db.dialect === 'postgres') q = q.forUpdate().skipLocked();
      return q;
    })
    .returningAll()
    .executeTakeFirst();
}

export interface AttemptRecord {
  attempt: number;
  startedAt: number;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  state: 'pending' | 'delivered' | 'failed' | 'gone';
  nextAttemptAt: number | null;
  completedAt: number | null;
}

/**
 * Logs an attempt and moves the delivery on, in one transaction. The attempt is logged even if
 * the lease was lost meanwhile (the request was really sent); the delivery row only changes for
 * the lease holder. Returns whether this caller still held the lease.
 */
export async function recordAttempt(db: Db, deliveryId: string, leaseToken: string, a: AttemptRecord): Promise<boolean> {
  return db.writeTx(async (trx) => {
    await trx
      .insertInto('webhook_attempts')
      .values({
        id: `att_${randomBytes(8).toString('hex')}`,
        delivery_id: deliveryId,
        attempt: a.attempt,
        started_at: a.startedAt,
        duration_ms: a.durationMs,
        status_code: a.statusCode,
        error: a.error,
        outcome: a.state,
        next_attempt_at: a.nextAttemptAt,
      })
      .execute();
    const res = await trx
      .updateTable('webhook_deliveries')
      .set({
        state: a.state,
        attempts: a.attempt,
        next_attempt_at: a.nextAttemptAt,
        lease_token: null,
        lease_expires_at: null,
        completed_at: a.completedAt,
        last_status: a.statusCode,
        last_error: a.error,
      })
      .where('id', '=', deliveryId)
      .where('lease_token', '=', leaseToken)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  });
}

/** Gives a claimed delivery back untried (shutdown interrupted it), due again at once. */
export async function releaseDelivery(db: Db, deliveryId: string, leaseToken: string): Promise<void> {
  await db.kysely
    .updateTable('webhook_deliveries')
    .set({ lease_token: null, lease_expires_at: null })
    .where('id', '=', deliveryId)
    .where('lease_token', '=', leaseToken)
    .execute();
}

/** Every delivery of a task, oldest first, each with its attempts in order. */
export async function listTaskDeliveries(db: Db, taskId: string): Promise<Array<DeliveryRow & { log: AttemptRow[] }>> {
  const deliveries = await db.kysely.selectFrom('webhook_deliveries').selectAll().where('task_id', '=', taskId).orderBy('created_at').orderBy('id').execute();
  if (deliveries.length === 0) return [];
  const attempts = await db.kysely
    .selectFrom('webhook_attempts')
    .selectAll()
    .where(
      'delivery_id',
      'in',
      deliveries.map((d) => d.id),
    )
    .orderBy('attempt')
    .orderBy('started_at')
    .execute();
  return deliveries.map((d) => ({ ...d, log: attempts.filter((a) => a.delivery_id === d.id) }));
}
