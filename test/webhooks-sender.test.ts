import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createAccount } from '../src/db/accounts-repo.js';
import { openDb } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrations.js';
import { insertTask, type TaskRow } from '../src/db/tasks-repo.js';
import { expirePreviousSecret, rotateWebhookSecret } from '../src/db/webhook-secrets-repo.js';
import { newTaskId } from '../src/domain/ids.js';
import { createContentPolicy } from '../src/domain/moderation.js';
import { createEngineHealth } from '../src/engines/health.js';
import { createEngineRegistry } from '../src/engines/registry.js';
import { createMetrics } from '../src/metrics/metrics.js';
import type { Deps } from '../src/services/deps.js';
import { settleFailure, settleSuccess } from '../src/services/settle-task.js';
import { createTaskEvents } from '../src/services/task-events.js';
import { redeliverTask, taskDeliveries } from '../src/services/webhook-deliveries.js';
import { createFsBlobStore } from '../src/storage/fs-blob-store.js';
import { createUrlSigner } from '../src/storage/url-signer.js';
import { createWebhookSender, type WebhookSender } from '../src/webhooks/sender.js';
import { newWebhookSecret } from '../src/webhooks/sign.js';
import { createWaker } from '../src/worker/waker.js';
import { successFields } from './support/task-rows.js';
import { type Receiver, startReceiver } from './support/webhook-receiver.js';

/**
 * The sender against a real HTTPS receiver on loopback, driven one attempt at a time
 * (`sendOne`) with a clock the test moves. The database is real SQLite; nothing of ours is mocked.
 * The operator switch is on, so 127.0.0.1 may be dialled; the CA is the receiver's self-signed cert.
 */
let rx: Receiver;
let dataDir = '';
let deps: Deps;
let offset = 0;
let accountId = '';
let secret = '';
let sender: WebhookSender;

beforeAll(async () => {
  rx = await startReceiver();
  dataDir = await mkdtemp(join(tmpdir(), 'longshot-hooks-'));
  const config = loadConfig({
    LONGSHOT_DATA_DIR: dataDir,
    LONGSHOT_ALLOW_PRIVATE_CALLBACKS: 'true',
    LONGSHOT_WEBHOOK_RETRY_SCHEDULE: '30s,2m',
    LONGSHOT_WEBHOOK_TIMEOUT_MS: '500',
  });
  const db = openDb(config);
  await migrateToLatest(db.kysely);
  deps = {
    config,
    db,
    clock: { now: () => Date.now() + offset },
    blobs: createFsBlobStore(join(dataDir, 'files')),
    signer: createUrlSigner('test-url-key'),
    engines: createEngineRegistry({ auto: [], value: [], official: [] }),
    health: createEngineHealth([], { failures: 5, cooldownMs: 60_000, probeTimeoutMs: 60_000, recheckMs: 300_000 }),
    engineStandings: () => [],
    // No admin route is served here: nothing is admitted.
    admin: { verify: () => false },
    metrics: createMetrics({ db, engines: [], engineStandings: () => [], now: () => Date.now() }),
    log: pino({ level: 'silent' }),
    publicUrl: 'https://longshot.example',
    contentPolicy: createContentPolicy([]),
    taskEvents: createTaskEvents(),
    wakeWorkers: () => {},
    wakeWebhooks: () => {},
    callbackTransport: { ca: rx.ca },
  };
  const account = await createAccount(db, 'hooks', 0, Date.now());
  accountId = account.id;
  secret = account.webhook_secret;
  // No jitter, so "on schedule" is exact.
  sender = createWebhookSender(deps, { waker: createWaker(), concurrency: 1, transport: { ca: rx.ca }, random: () => 0 });
});

afterAll(async () => {
  await rx?.close();
  await deps?.db.close();
  await rm(dataDir, { recursive: true, force: true });
});

// Each test starts at real time with no leftovers: deliveries a test left pending are closed.
beforeEach(() => {
  offset = 0;
});
afterEach(async () => {
  rx.received.length = 0;
  rx.answer = () => ({ status: 200 });
  await deps.db.kysely.updateTable('webhook_deliveries').set({ state: 'failed', next_attempt_at: null }).where('state', '=', 'pending').execute();
});

/** A callback task that a worker has just finished: the settle transaction writes the outbox row. */
async function finishedTask(url: string, outcome: 'success' | 'failed' = 'success'): Promise<string> {
  const now = deps.clock.now();
  const id = newTaskId(now);
  const token = randomUUID();
  const row: TaskRow = {
    id,
    account_id: accountId,
    api_key_id: 'key_test',
    model: 'veo-3-1',
    state: 'processing',
    request_type: 'callback',
    callback_url: url,
    callback_events: null,
    progress_event_at: null,
    provider: 'auto',
    input: '{}',
    source_task_id: null,
    chain_depth: 0,
    price_micros: 0,
    create_time: now - 5000,
    start_time: now - 4000,
    complete_time: null,
    fail_code: null,
    fail_msg: null,
    attempts: 1,
    run_after: now,
    lease_token: token,
    lease_expires_at: now + 30_000,
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
  await deps.db.writeTx((trx) => insertTask(trx, row));
  const settled =
    outcome === 'success'
      ? await settleSuccess(deps, row, token, successFields(id, now))
      : await settleFailure(deps, row, token, 'CONTENT_VIOLATION', 'the prompt was refused');
  expect(settled).toBe(true);
  return id;
}

async function log(taskId: string) {
  const out = await taskDeliveries(deps.db, accountId, taskId);
  if (!out.ok) throw new Error(out.error);
  return out.deliveries;
}

/** Sends whatever is due until nothing is (normally one attempt per call site). */
async function drain(): Promise<number> {
  let n = 0;
  while (await sender.sendOne()) n++;
  return n;
}

describe('webhook delivery', () => {
  it('500, 500, 200: three signed attempts on the schedule with one webhook-id, then delivered', async () => {
    rx.script({ status: 500 }, { status: 500 }, { status: 200 });
    const taskId = await finishedTask(`${rx.url}/hook?x=1`);
    const t0 = deps.clock.now();

    expect(await drain()).toBe(1);
    offset += 29_000;
    expect(await drain()).toBe(0); // not due before 30 s
    offset += 1_000;
    expect(await drain()).toBe(1);
    offset += 119_000;
    expect(await drain()).toBe(0); // not due before 2 min after the second attempt
    offset += 1_000;
    expect(await drain()).toBe(1);
    offset += 86_400_000;
    expect(await drain()).toBe(0); // delivered: never again

    expect(rx.received).toHaveLength(3);
    const ids = new Set(rx.received.map((r) => r.headers['webhook-id']));
    expect([...ids]).toEqual([`msg_${taskId}`]);
    for (const r of rx.received) {
      expect(r.path).toBe('/hook?x=1');
      expect(r.headers['content-type']).toBe('application/json');
      // The receiver's side: the standardwebhooks library verifies id, timestamp and body.
      const payload = new Webhook(secret).verify(r.body, r.headers as Record<string, string>) as any;
      expect(payload).toMatchObject({ code: 200, message: 'success', data: { taskId, state: 'success' } });
      expect(JSON.parse(payload.data.resultJson).resultUrls[0]).toMatch(new RegExp(`^https://longshot\\.example/files/results/${taskId}\\.mp4\\?expires=`));
    }
    const stamps = rx.received.map((r) => Number(r.headers['webhook-timestamp']));
    expect(stamps[1]! - stamps[0]!).toBeGreaterThanOrEqual(29);
    expect(stamps[2]! - stamps[1]!).toBeGreaterThanOrEqual(119);

    const [d] = await log(taskId);
    expect(d).toMatchObject({ webhookId: `msg_${taskId}`, trigger: 'settle', state: 'delivered', nextAttemptTime: null });
    expect(d!.attempts.map((a) => [a.attempt, a.statusCode, a.state])).toEqual([
      [1, 500, 'pending'],
      [2, 500, 'pending'],
      [3, 200, 'delivered'],
    ]);
    expect(d!.attempts[0]!.nextAttemptTime).toBeGreaterThanOrEqual(t0 + 30_000);
    expect(d!.attempts[0]!.error).toMatch(/500/);
    expect(d!.attempts[2]!.error).toBeNull();
  });

  it('a failed task is delivered too, and retries stop when the schedule is used up', async () => {
    rx.answer = () => ({ status: 500 });
    const taskId = await finishedTask(rx.url, 'failed');
    for (let i = 0; i < 5; i++) {
      await drain();
      offset += 3_600_000;
    }
    expect(rx.received).toHaveLength(3); // 1 + two retries ("30s,2m")
    expect(JSON.parse(rx.received[0]!.body).data).toMatchObject({ taskId, state: 'failed', failCode: 'CONTENT_VIOLATION' });
    const [d] = await log(taskId);
    expect(d!.state).toBe('failed');
    expect(d!.attempts.map((a) => a.state)).toEqual(['pending', 'pending', 'failed']);
  });

  it('does not follow a 302: the redirect target sees nothing', async () => {
    rx.answer = (r) => (r.path === '/target' ? { status: 200 } : { status: 302, headers: { location: `${rx.url}/target` } });
    const taskId = await finishedTask(`${rx.url}/start`);
    await drain();
    await new Promise((r) => setTimeout(r, 100));
    expect(rx.received.map((r) => r.path)).toEqual(['/start']);
    const [d] = await log(taskId);
    expect(d!.state).toBe('pending');
    expect(d!.attempts[0]).toMatchObject({ statusCode: 302, state: 'pending' });
    expect(d!.attempts[0]!.error).toMatch(/redirects are not followed/);
  });

  it('stops at 410 Gone', async () => {
    rx.answer = () => ({ status: 410 });
    const taskId = await finishedTask(rx.url);
    await drain();
    offset += 86_400_000;
    await drain();
    expect(rx.received).toHaveLength(1);
    const [d] = await log(taskId);
    expect(d).toMatchObject({ state: 'gone', nextAttemptTime: null });
    expect(d!.attempts).toHaveLength(1);
  });

  it('honours Retry-After (seconds on 503, an HTTP date on 429) when later than the schedule', async () => {
    rx.script({ status: 503, headers: { 'retry-after': '300' } });
    const taskId = await finishedTask(rx.url);
    const start = deps.clock.now();
    await drain();
    offset += 299_000;
    expect(await drain()).toBe(0); // the schedule says 30 s, the receiver asked for 300 s
    const [d] = await log(taskId);
    expect(d!.attempts[0]!.nextAttemptTime).toBeGreaterThanOrEqual(start + 300_000);
    offset += 1_500;
    rx.script({ status: 429, headers: { 'retry-after': new Date(deps.clock.now() + 600_000).toUTCString() } }, { status: 200 });
    expect(await drain()).toBe(1);
    const second = deps.clock.now();
    offset += 590_000;
    expect(await drain()).toBe(0); // the date is 10 min out, the schedule only 2 min
    offset += 11_000;
    expect(await drain()).toBe(1);
    const [after] = await log(taskId);
    expect(after!.state).toBe('delivered');
    expect(after!.attempts[1]!.nextAttemptTime! - second).toBeGreaterThan(590_000);
  });

  it('cuts a receiver that never answers at the deadline and retries later', async () => {
    rx.answer = () => 'hang';
    const taskId = await finishedTask(rx.url);
    await drain();
    const [d] = await log(taskId);
    expect(rx.received).toHaveLength(1);
    expect(d!.attempts[0]).toMatchObject({ statusCode: null, state: 'pending' });
    expect(d!.attempts[0]!.error).toMatch(/^timeout: no complete response within 500 ms/);
    expect(d!.attempts[0]!.durationMs).toBeGreaterThanOrEqual(450);
  });

  it('signs with both secrets during a rotation, then with the new one only', async () => {
    const next = newWebhookSecret();
    await rotateWebhookSecret(deps.db, accountId, next, deps.clock.now(), 3_600_000);
    await finishedTask(rx.url);
    await drain();
    const [first] = rx.received;
    expect(String(first!.headers['webhook-signature']).split(' ')).toHaveLength(2);
    for (const s of [secret, next]) expect(() => new Webhook(s).verify(first!.body, first!.headers as Record<string, string>)).not.toThrow();

    await expirePreviousSecret(deps.db, accountId);
    await finishedTask(rx.url);
    await drain();
    const second = rx.received[1]!;
    expect(String(second.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(() => new Webhook(next).verify(second.body, second.headers as Record<string, string>)).not.toThrow();
    expect(() => new Webhook(secret).verify(second.body, second.headers as Record<string, string>)).toThrow();
    secret = next;
  });

  it('redelivers a finished task as a new message with a new webhook-id', async () => {
    const taskId = await finishedTask(rx.url);
    await drain();
    const out = await redeliverTask(deps.db, accountId, taskId, deps.clock.now());
    expect(out.ok).toBe(true);
    await drain();
    expect(rx.received).toHaveLength(2);
    const [a, b] = rx.received.map((r) => r.headers['webhook-id']);
    expect(a).toBe(`msg_${taskId}`);
    expect(b).not.toBe(a);
    expect(b).toBe(out.ok && out.webhookId);
    expect((await log(taskId)).map((d) => [d.trigger, d.state])).toEqual([
      ['settle', 'delivered'],
      ['redeliver', 'delivered'],
    ]);
  });

  it('two senders on separate connections never send the same delivery twice', async () => {
    const otherDb = openDb(deps.config);
    const a = createWebhookSender(deps, { waker: createWaker(), concurrency: 4, transport: { ca: rx.ca }, pollMs: 20 });
    const b = createWebhookSender({ ...deps, db: otherDb }, { waker: createWaker(), concurrency: 4, transport: { ca: rx.ca }, pollMs: 20 });
    const ids: string[] = [];
    try {
      for (let i = 0; i < 16; i++) ids.push(await finishedTask(`${rx.url}/race`));
      a.start();
      b.start();
      await rx.waitFor(16);
      await new Promise((r) => setTimeout(r, 200)); // room for a duplicate to show up
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await otherDb.close();
    }
    const got = rx.received.map((r) => r.headers['webhook-id']).sort();
    expect(got).toEqual(ids.map((id) => `msg_${id}`).sort());
  });

  it('a running sender sends at once when woken, keeps a slow receiver from blocking others, and gives an interrupted delivery back on stop', async () => {
    const waker = createWaker();
    // A 5 s deadline here, so the slow receiver is surely still in flight while the test looks.
    const slowDeps = { ...deps, config: { ...deps.config, webhookTimeoutMs: 5000 } };
    const running = createWebhookSender(slowDeps, { waker, concurrency: 2, transport: { ca: rx.ca }, pollMs: 60_000 });
    rx.answer = (r) => (r.path === '/slow' ? 'hang' : { status: 200 });
    running.start();
    try {
      const slow = await finishedTask(`${rx.url}/slow`);
      waker.wake();
      await rx.waitFor(1);
      const fast = await finishedTask(`${rx.url}/fast`);
      waker.wake();
      await rx.waitFor(2);
      expect(rx.received.map((r) => r.path)).toEqual(['/slow', '/fast']);
      for (let i = 0; (await log(fast))[0]!.state !== 'delivered'; i++) {
        if (i > 100) throw new Error('the fast delivery was not recorded');
        await new Promise((r) => setTimeout(r, 20));
      }
      // The slow one is still in flight when the fast one is done.
      expect((await log(slow))[0]!.attempts).toHaveLength(0);
      await running.stop();
      // Stopping aborted it: no attempt is logged and it stays due for the next sender.
      const [d] = await log(slow);
      expect(d).toMatchObject({ state: 'pending', attempts: [] });
      const row = await deps.db.kysely.selectFrom('webhook_deliveries').selectAll().where('id', '=', d!.webhookId).executeTakeFirstOrThrow();
      expect(row.lease_token).toBeNull();
    } finally {
      await running.stop();
    }
  });
});
