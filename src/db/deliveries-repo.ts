import { randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { type CallbackEvent, wantsEvent } from '../domain/callback-events.js';
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
  d: { id: string; taskId: string; accountId: string; url: string; trigger: DeliveryTrigger; now: number; event?: CallbackEvent; payload?: string },
): Promise<void> {
  await insertDeliveryQuery(trx, d).execute();
}

function insertDeliveryQuery(
  trx: Kysely<Database>,
  d: { id: string; taskId: string; accountId: string; url: string; trigger: DeliveryTrigger; now: number; event?: CallbackEvent; payload?: string },
) {
  return trx.insertInto('webhook_deliveries').values({
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
    event: d.event ?? null,
    payload: d.payload ?? null,
  });
}

/**
 * The outbox write: call inside the transaction that ends the task. If the task asked for a
 * callback, its delivery row is inserted, so a crash after the commit still delivers (the sender
 * finds the row on restart) and a rollback delivers nothing. Returns whether a row was written.
 */
export async function enqueueTaskCallback(trx: Kysely<Database>, taskId: string, now: number): Promise<boolean> {
  const task = await trx
    .selectFrom('tasks')
    .select(['account_id', 'request_type', 'callback_url', 'callback_events', 'state'])
    .where('id', '=', taskId)
    .executeTakeFirst();
  if (task?.request_type !== 'callback' || !task.callback_url) return false;
  const event = task.state === 'success' ? 'success' : 'failed';
  if (!wantsEvent(task.callback_events, event)) return false;
  await insertDelivery(trx, { id: settleDeliveryId(taskId), taskId, accountId: task.account_id, url: task.callback_url, trigger: 'settle', now, event });
  return true;
}

/**
 * Queues an event of a running task (`processing`, `progress`) with its body as it is now: sent
 * later, it must still say what was true then. `id` names the event, so queueing one twice (a
 * worker that retries the task) writes one row. Returns whether a row was written.
 */
export async function enqueueRunningEvent(
  db: Db,
  e: { id: string; taskId: string; accountId: string; url: string; event: 'processing' | 'progress'; payload: string; now: number },
): Promise<boolean> {
  const res = await insertDeliveryQuery(db.kysely, { ...e, trigger: 'settle' })
    .onConflict((oc) => oc.column('id').doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0n) > 0;
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
        .selectFrom('webhook_deliveries as d')
        .select('d.id')
        .where('d.state', '=', 'pending')
        .where('d.next_attempt_at', '<=', now)
        .where((e) => e.or([e('d.lease_expires_at', 'is', null), e('d.lease_expires_at', '<', now)]))
        // One task's events leave in the order they happened: not while an earlier one of the
        // same task waits for its first attempt or is being sent. One in retry backoff does not
        // hold the later ones back (docs/webhooks.md, events).
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('webhook_deliveries as e')
                .select('e.id')
                .whereRef('e.task_id', '=', 'd.task_id')
                .where('e.state', '=', 'pending')
                .where((x) =>
                  x.or([x('e.created_at', '<', x.ref('d.created_at')), x.and([x('e.created_at', '=', x.ref('d.created_at')), x('e.id', '<', x.ref('d.id'))])]),
                )
                .where((x) => x.or([x('e.attempts', '=', 0), x('e.lease_expires_at', '>=', now)])),
            ),
          ),
        )
        .orderBy('d.next_attempt_at')
        .orderBy('d.id')
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
