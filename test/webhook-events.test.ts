import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LongshotClient } from '../src/client/index.js';
import { createAccount, findAccountByName } from '../src/db/accounts-repo.js';
import { claimDueDelivery, enqueueRunningEvent, insertDelivery, recordAttempt } from '../src/db/deliveries-repo.js';
import { insertTask } from '../src/db/tasks-repo.js';
import { newTaskId } from '../src/domain/ids.js';
import { DIALECTS, type TestDb } from './support/databases.js';
import { startTestService, type TestService, waitForTask } from './support/service.js';
import { insertRow, taskRow } from './support/task-rows.js';
import { until } from './support/until.js';
import { type Receiver, startReceiver } from './support/webhook-receiver.js';

/**
 * `callback_events` (docs/webhooks.md, events): a callback task may ask to hear of its start
 * and progress too. Without the field a task is sent exactly one message, its end, as before.
 * Every event is signed like any callback and logged; one task's events leave in order.
 */
const GEN = '/api/v1/generateTask/veo-3-1';

let rx: Receiver;
let t: TestService;
let secret = '';

beforeAll(async () => {
  rx = await startReceiver();
  t = await startTestService({ LONGSHOT_ALLOW_PRIVATE_CALLBACKS: 'true' }, { service: { callbackTransport: { ca: rx.ca } } });
  secret = (await findAccountByName(t.service.deps.db, 'default'))!.webhook_secret;
});
afterAll(async () => {
  await t?.close();
  await rx?.close();
});

const at = (path: string) => rx.received.filter((r) => r.path === path);
const verified = (path: string) => at(path).map((r) => new Webhook(secret).verify(r.body, r.headers as Record<string, string>) as any);

async function submit(path: string, events: unknown, prompt = 'a calm ocean at sunset'): Promise<string> {
  const body: Record<string, unknown> = { request_type: 'callback', callback_url: `${rx.url}${path}`, input: { prompt, mode: 'fast' } };
  if (events !== undefined) body.callback_events = events;
  const res = await t.api('POST', GEN, { body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data.taskId;
}

async function deliveriesOf(taskId: string, count: number): Promise<any[]> {
  return until(async () => {
    const log = await t.api('GET', `/api/v1/webhookDeliveries?taskId=${taskId}`);
    const done = log.body.data.deliveries.filter((d: any) => d.state === 'delivered');
    return done.length >= count ? log.body.data.deliveries : undefined;
  }, 'the deliveries');
}

describe('callback_events over HTTP', () => {
  it('without the field: exactly one delivery, the end, as before', async () => {
    const id = await submit('/default', undefined);
    await waitForTask(t, 'veo-3-1', id);
    const log = await deliveriesOf(id, 1);
    expect(log.map((d: any) => [d.trigger, d.event])).toEqual([['settle', 'success']]);
    const [msg] = verified('/default');
    expect(msg).toMatchObject({ code: 200, data: { taskId: id, state: 'success' } });
    expect(at('/default')).toHaveLength(1);
    expect(at('/default')[0]!.headers['webhook-id']).toBe(`msg_${id}`);
  });

  it('processing and success: both signed, the start first, the start says processing', async () => {
    // Through the client, whose callbackEvents option sends the field.
    const client = new LongshotClient({ baseUrl: `${t.url}/api/v1`, apiKey: t.key });
    const id = await client.generate(
      { prompt: 'a calm ocean at sunset', mode: 'fast' },
      { callbackUrl: `${rx.url}/both`, callbackEvents: ['processing', 'success'] },
    );
    await waitForTask(t, 'veo-3-1', id);
    const log = await deliveriesOf(id, 2);
    expect(log.map((d: any) => d.event)).toEqual(['processing', 'success']);
    const msgs = verified('/both');
    expect(msgs.map((m) => m.data.state)).toEqual(['processing', 'success']);
    expect(msgs[0].data.taskId).toBe(id);
    expect(msgs[0].data.videoUrl ?? null).toBeNull();
    expect(at('/both')[0]!.headers['webhook-id']).toBe(`msg_${id}_processing`);
  });

  it('all four on a local render: progress events rise, at most one per 5 s, between the start and the end', async () => {
    // Quality mode, the slower encode, so the render reports progress for a while.
    const body = {
      request_type: 'callback',
      callback_url: `${rx.url}/all`,
      callback_events: ['processing', 'progress', 'success', 'failed'],
      input: { prompt: 'every event of a quality render', mode: 'quality', seed: 31 },
    };
    const res = await t.api('POST', GEN, { body });
    expect(res.status).toBe(200);
    const id = res.body.data.taskId;
    await waitForTask(t, 'veo-3-1', id, undefined, 240_000);
    const log = await until(async () => {
      const l = await t.api('GET', `/api/v1/webhookDeliveries?taskId=${id}`);
      const all = l.body.data.deliveries;
      return all.length >= 3 && all.every((d: any) => d.state === 'delivered') ? all : undefined;
    }, 'every event delivered');
    const events = log.map((d: any) => d.event);
    expect(events[0]).toBe('processing');
    expect(events.at(-1)).toBe('success');
    expect(events.slice(1, -1).every((e: string) => e === 'progress')).toBe(true);
    expect(events.filter((e: string) => e === 'progress').length).toBeGreaterThanOrEqual(1);

    // As received: signed, in order, progress never decreasing, the end at 100.
    const msgs = verified('/all');
    expect(msgs.map((m) => m.data.state)).toEqual(events.map((e: string) => (e === 'success' ? 'success' : 'processing')));
    const progress = msgs.slice(1, -1).map((m) => m.data.progress);
    for (const p of progress) expect(Number.isInteger(p) && p >= 0 && p < 100).toBe(true);
    for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThanOrEqual(progress[i - 1]);
    expect(msgs.at(-1).data.progress).toBe(100);
    // The rate limit: the ids carry the time each progress event was queued.
    const queuedAt = at('/all')
      .map((r) => String(r.headers['webhook-id']))
      .filter((h) => h.includes('_progress_'))
      .map((h) => Number(h.split('_progress_')[1]));
    for (let i = 1; i < queuedAt.length; i++) expect(queuedAt[i]! - queuedAt[i - 1]!).toBeGreaterThanOrEqual(5000);
  }, 300_000);

  it('a failure is sent when asked for, and a success that was not asked for is not', async () => {
    const refused = await submit('/failed', ['failed'], 'a porn film set');
    const done = await waitForTask(t, 'veo-3-1', refused);
    expect(done.state).toBe('failed');
    await deliveriesOf(refused, 1);
    expect(verified('/failed').map((m) => [m.data.taskId, m.data.state, m.data.failCode])).toEqual([[refused, 'failed', 'CONTENT_VIOLATION']]);

    const quiet = await submit('/quiet', ['failed']);
    await waitForTask(t, 'veo-3-1', quiet);
    const log = await t.api('GET', `/api/v1/webhookDeliveries?taskId=${quiet}`);
    expect(log.body.data.deliveries).toEqual([]);
  });

  it('refuses a bad callback_events with 400 naming the field', async () => {
    for (const events of ['success', [], ['done'], ['success', 'success'], [1]]) {
      const res = await t.api('POST', GEN, {
        body: { request_type: 'callback', callback_url: `${rx.url}/x`, callback_events: events, input: { prompt: 'x', mode: 'fast' } },
      });
      expect(res.status, JSON.stringify(events)).toBe(400);
      expect(res.body).toMatchObject({ code: 400, data: { field: 'callback_events' } });
    }
  });

  it('ignores callback_events on an async task, like callback_url', async () => {
    const res = await t.api('POST', GEN, { body: { request_type: 'async', callback_events: 'nonsense', input: { prompt: 'x', mode: 'fast' } } });
    expect(res.status).toBe(200);
  });
});

/** The sender's order rule against each database: the claim query decides it. */
for (const dialect of DIALECTS) {
  describe(`one task's events leave in order on ${dialect.name}`, () => {
    let d: TestDb;
    beforeAll(async () => {
      d = await dialect.open();
    });
    afterAll(() => d?.drop());

    it('a later event waits while an earlier one is unsent or being sent, not while it backs off', async () => {
      const db = d.db;
      const accountId = (await createAccount(db, 'acct', 0, 1000)).id;
      const owner = { accountId, keyId: 'k' };
      const taskId = newTaskId(1000);
      const other = newTaskId(1001);
      await db.writeTx(async (trx) => {
        await insertTask(trx, taskRow(owner, 1000, { id: taskId }));
        await insertTask(trx, taskRow(owner, 1001, { id: other }));
      });
      const base = { accountId, url: 'https://hooks.example/x', trigger: 'settle' as const };
      await enqueueRunningEvent(db, { ...base, id: `msg_${taskId}_processing`, taskId, event: 'processing', payload: '{}', now: 1000 });
      // Queued twice (a retried worker): one row.
      expect(await enqueueRunningEvent(db, { ...base, id: `msg_${taskId}_processing`, taskId, event: 'processing', payload: '{}', now: 1001 })).toBe(false);
      await db.writeTx((trx) => insertDelivery(trx, { ...base, id: `msg_${taskId}`, taskId, now: 2000, event: 'success' }));
      await db.writeTx((trx) => insertDelivery(trx, { ...base, id: `msg_${other}`, taskId: other, now: 2500, event: 'success' }));

      const first = await claimDueDelivery(db, 3000, 60_000, 'lease-a');
      expect(first?.id).toBe(`msg_${taskId}_processing`);
      // While the start is being sent, the task's end waits; another task's message does not.
      const second = await claimDueDelivery(db, 3000, 60_000, 'lease-b');
      expect(second?.id).toBe(`msg_${other}`);
      expect(await claimDueDelivery(db, 3000, 60_000, 'lease-c')).toBeUndefined();

      // The start failed and backs off: the end may go now.
      await recordAttempt(db, first!.id, 'lease-a', {
        attempt: 1,
        startedAt: 3000,
        durationMs: 5,
        statusCode: 500,
        error: 'HTTP 500',
        state: 'pending',
        nextAttemptAt: 60_000,
        completedAt: null,
      });
      const third = await claimDueDelivery(db, 3100, 60_000, 'lease-d');
      expect(third?.id).toBe(`msg_${taskId}`);
    });
  });
}

describe('the delivery log names each event', () => {
  it('rows from before events existed read as the task end', async () => {
    const owner = { accountId: (await findAccountByName(t.service.deps.db, 'default'))!.id, keyId: 'k' };
    const id = await insertRow(t, owner, { state: 'success', request_type: 'callback', callback_url: `${rx.url}/old` });
    await t.service.deps.db.writeTx((trx) =>
      insertDelivery(trx, { id: `msg_old_${id}`, taskId: id, accountId: owner.accountId, url: `${rx.url}/old`, trigger: 'settle', now: 1 }),
    );
    const log = await t.api('GET', `/api/v1/webhookDeliveries?taskId=${id}`);
    expect(log.body.data.deliveries.map((x: any) => x.event)).toContain('success');
  });
});
