import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhook } from '../src/client/webhook.js';
import { findAccountByName } from '../src/db/accounts-repo.js';
import { defaultLookup, type LookupFn } from '../src/net/guarded-http.js';
import { removeDataDir, startTestService, type TestService, waitForTask } from './support/service.js';
import { until } from './support/until.js';
import { type Receiver, startReceiver } from './support/webhook-receiver.js';

/**
 * Callbacks through the whole service (docs/contract.md §5): submit-time SSRF checks, a rendered task
 * delivered to a real HTTPS receiver on loopback, the delivery log and redelivery routes, DNS
 * rebinding caught at connect, and the outbox surviving a stop between settle and send.
 */
const GEN = '/api/v1/generateTask/veo-3-1';
const input = (seed: number) => ({ prompt: 'a lighthouse at dusk', mode: 'fast', seed });

let rx: Receiver;
/** Operator switch on (loopback allowed), trusting the receiver's self-signed certificate. */
let open: TestService;
/** No workers (tasks stay pending, nothing renders): submit-time checks, switch off and on. */
let gate: TestService;
let idle: TestService;

/** `hooks.example` answers a public address once (at submit), then loopback (at send): DNS rebinding. */
let rebindCalls = 0;
const rebinding: LookupFn = async (host) => {
  if (host !== 'hooks.example') return defaultLookup(host);
  return rebindCalls++ === 0 ? [{ address: '93.184.215.14', family: 4 }] : [{ address: '127.0.0.1', family: 4 }];
};

beforeAll(async () => {
  rx = await startReceiver();
  [open, gate, idle] = await Promise.all([
    startTestService({ LONGSHOT_ALLOW_PRIVATE_CALLBACKS: 'true' }, { service: { callbackTransport: { ca: rx.ca } } }),
    startTestService({}, { workers: false }),
    startTestService({ LONGSHOT_ALLOW_PRIVATE_CALLBACKS: 'true' }, { workers: false }),
  ]);
});
afterAll(async () => {
  await Promise.all([open?.close(), gate?.close(), idle?.close()]);
  await rx?.close();
});

const at = (path: string) => rx.received.filter((r) => r.path === path);

describe('callback_url at submit (operator switch off)', () => {
  const refused: Array<[string, RegExp]> = [
    ['https://localhost/hook', /not public: loopback/],
    ['https://127.0.0.1/hook', /not public: loopback/],
    ['https://169.254.169.254/latest/meta-data', /link-local/],
    ['https://[::1]/hook', /loopback/],
    ['https://2130706433/hook', /loopback/], // 127.0.0.1 spelled as a decimal number
    ['http://example.com/hook', /https/],
    ['ftp://example.com/hook', /https/],
    ['https://user:pw@example.com/hook', /user info/],
  ];
  for (const [url, why] of refused) {
    it(`400 callback_url for ${url}`, async () => {
      const res = await gate.api('POST', GEN, { body: { request_type: 'callback', callback_url: url, input: input(1) } });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 400, message: 'Invalid request', data: { field: 'callback_url' } });
      expect(res.body.data.error).toMatch(/^callback_url /);
      expect(res.body.data.error).toMatch(why);
    });
  }

  it('ignores callback_url when request_type is async', async () => {
    const res = await gate.api('POST', GEN, { body: { request_type: 'async', callback_url: 'https://127.0.0.1/hook', input: input(2) } });
    expect(res.status).toBe(200);
    const log = await gate.api('GET', `/api/v1/webhookDeliveries?taskId=${res.body.data.taskId}`);
    expect(log.body.data.deliveries).toEqual([]);
  });

  it('accepts http and loopback with LONGSHOT_ALLOW_PRIVATE_CALLBACKS=true, still not other schemes', async () => {
    expect((await idle.api('POST', GEN, { body: { request_type: 'callback', callback_url: 'http://127.0.0.1:9/x', input: input(3) } })).status).toBe(200);
    const ftp = await idle.api('POST', GEN, { body: { request_type: 'callback', callback_url: 'ftp://127.0.0.1/x', input: input(3) } });
    expect(ftp.body.data).toMatchObject({ field: 'callback_url', error: 'callback_url must be an absolute http(s) URL' });
  });
});

describe('delivery through the service', () => {
  let taskId = '';

  it('POSTs the status envelope, signed with the account secret, when the task ends', async () => {
    const res = await open.api('POST', GEN, { body: { request_type: 'callback', callback_url: `${rx.url}/e2e`, input: input(4) } });
    expect(res.status).toBe(200);
    taskId = res.body.data.taskId;
    await waitForTask(open, 'veo-3-1', taskId);
    await until(async () => (at('/e2e').length > 0 ? true : undefined), 'the callback');
    const [hook] = at('/e2e');
    const secret = (await findAccountByName(open.service.deps.db, 'default'))!.webhook_secret;
    const payload = new Webhook(secret).verify(hook!.body, hook!.headers as Record<string, string>) as any;
    // Our own TypeScript client's verifier agrees with the reference library.
    expect(verifyWebhook(hook!.body, hook!.headers, secret)).toEqual(payload);
    expect(hook!.headers['webhook-id']).toBe(`msg_${taskId}`);
    expect(hook!.headers['content-type']).toBe('application/json');

    const status = (await open.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`)).body;
    // Signed URLs carry the time they were made; everything else is identical.
    const { resultJson: a, posterUrl: pa, ...restPayload } = payload.data;
    const { resultJson: b, posterUrl: pb, ...restStatus } = status.data;
    expect({ ...payload, data: restPayload }).toEqual({ ...status, data: restStatus });
    const file = (j: string) => JSON.parse(j).resultUrls[0].split('?')[0];
    expect(file(a)).toBe(file(b));
    expect(pa.split('?')[0]).toBe(pb.split('?')[0]);
    // The URL in the callback is signed and works.
    expect((await fetch(JSON.parse(a).resultUrls[0], { method: 'HEAD' })).status).toBe(200);
  });

  it('lists the delivery and its attempts; another account gets 404', async () => {
    const log = await until(async () => {
      const r = await open.api('GET', `/api/v1/webhookDeliveries?taskId=${taskId}`);
      return r.body.data.deliveries[0]?.state === 'delivered' ? r : undefined;
    }, 'the delivery log');
    expect(log.body).toMatchObject({ code: 200, message: 'success', data: { taskId } });
    const [d] = log.body.data.deliveries;
    expect(d).toMatchObject({ webhookId: `msg_${taskId}`, trigger: 'settle', url: `${rx.url}/e2e`, state: 'delivered', nextAttemptTime: null });
    expect(d.attempts).toHaveLength(1);
    expect(d.attempts[0]).toMatchObject({ attempt: 1, statusCode: 200, error: null, state: 'delivered', nextAttemptTime: null });
    expect(typeof d.attempts[0].time).toBe('number');
    expect(typeof d.attempts[0].durationMs).toBe('number');

    const other = await open.newAccount('hooks-other');
    for (const res of [
      await open.api('GET', `/api/v1/webhookDeliveries?taskId=${taskId}`, { key: other.key }),
      await open.api('POST', '/api/v1/webhookDeliveries/redeliver', { key: other.key, body: { taskId } }),
      await open.api('GET', `/api/v1/webhookDeliveries?taskId=${'0'.repeat(32)}`),
    ]) {
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ code: 404, message: 'Not found', data: { field: 'taskId' } });
    }
    const missing = await open.api('GET', '/api/v1/webhookDeliveries');
    expect(missing.body).toMatchObject({ code: 400, data: { field: 'taskId' } });
    expect((await open.api('GET', `/api/v1/webhookDeliveries?taskId=${taskId}`, { key: null })).status).toBe(401);
  });

  it('redelivers as a new message with a new webhook-id', async () => {
    const res = await open.api('POST', '/api/v1/webhookDeliveries/redeliver', { body: { taskId } });
    expect(res.body).toMatchObject({ code: 200, message: 'success', data: { taskId } });
    const webhookId = res.body.data.webhookId;
    expect(webhookId).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(webhookId).not.toBe(`msg_${taskId}`);
    await until(async () => (at('/e2e').length >= 2 ? true : undefined), 'the redelivery');
    expect(at('/e2e')[1]!.headers['webhook-id']).toBe(webhookId);
    const log = await until(async () => {
      const r = await open.api('GET', `/api/v1/webhookDeliveries?taskId=${taskId}`);
      return r.body.data.deliveries[1]?.state === 'delivered' ? r : undefined;
    }, 'the redelivery in the log');
    expect(log.body.data.deliveries.map((d: any) => [d.webhookId, d.trigger])).toEqual([
      [`msg_${taskId}`, 'settle'],
      [webhookId, 'redeliver'],
    ]);
  });

  it('refuses to redeliver a task without a callback, an unfinished one, and a bad body', async () => {
    // `idle` runs no workers, so its tasks stay pending.
    const plain = (await idle.api('POST', GEN, { body: { input: input(5) } })).body.data.taskId;
    const noCallback = await idle.api('POST', '/api/v1/webhookDeliveries/redeliver', { body: { taskId: plain } });
    expect(noCallback.body).toMatchObject({ code: 400, message: 'Invalid request', data: { field: 'taskId' } });
    expect(noCallback.body.data.error).toMatch(/callback/);
    const pending = (await idle.api('POST', GEN, { body: { request_type: 'callback', callback_url: `${rx.url}/later`, input: input(6) } })).body.data.taskId;
    const unfinished = await idle.api('POST', '/api/v1/webhookDeliveries/redeliver', { body: { taskId: pending } });
    expect(unfinished.body).toMatchObject({ code: 400, data: { field: 'taskId' } });
    expect(unfinished.body.data.error).toMatch(/only a finished task/);
    const bad = await idle.api('POST', '/api/v1/webhookDeliveries/redeliver', { body: { taskId: 7 } });
    expect(bad.body).toMatchObject({ code: 400, data: { field: 'taskId', error: 'taskId must be a string' } });
  });
});

describe('a URL that passed submit but rebinds to loopback', () => {
  it('is refused at connect and the receiver sees nothing', async () => {
    // Operator switch off; host names resolve through `rebinding`.
    const strict = await startTestService({}, { service: { callbackTransport: { ca: rx.ca, lookup: rebinding } } });
    try {
      const res = await strict.api('POST', GEN, {
        body: { request_type: 'callback', callback_url: `https://hooks.example:${rx.port}/rebind`, input: input(7) },
      });
      expect(res.status).toBe(200);
      const taskId = res.body.data.taskId;
      await waitForTask(strict, 'veo-3-1', taskId);
      const d = await until(async () => {
        const r = await strict.api('GET', `/api/v1/webhookDeliveries?taskId=${taskId}`);
        return r.body.data.deliveries[0]?.attempts.length ? r.body.data.deliveries[0] : undefined;
      }, 'the first attempt');
      expect(d.attempts[0]).toMatchObject({ statusCode: null, state: 'pending' });
      expect(d.attempts[0].error).toMatch(/^blocked: hooks\.example resolves to 127\.0\.0\.1, which is not public/);
      expect(at('/rebind')).toHaveLength(0);
    } finally {
      await strict.close();
    }
  });
});

describe('a stop between settle and send', () => {
  it('delivers exactly once after a restart on the same data directory', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'longshot-outbox-'));
    const env = { LONGSHOT_ALLOW_PRIVATE_CALLBACKS: 'true' };
    const service = { callbackTransport: { ca: rx.ca } };
    try {
      // The first process renders and settles, but runs no sender: the outbox row is all there is.
      const first = await startTestService({ ...env, LONGSHOT_WEBHOOK_CONCURRENCY: '0' }, { dataDir, service });
      const key = first.key;
      const taskId = (await first.api('POST', GEN, { body: { request_type: 'callback', callback_url: `${rx.url}/outbox`, input: input(8) } })).body.data.taskId;
      await waitForTask(first, 'veo-3-1', taskId);
      const pending = await first.api('GET', `/api/v1/webhookDeliveries?taskId=${taskId}`);
      expect(pending.body.data.deliveries).toMatchObject([{ webhookId: `msg_${taskId}`, state: 'pending', attempts: [] }]);
      await first.close();
      expect(at('/outbox')).toHaveLength(0);

      const second = await startTestService(env, { dataDir, service });
      try {
        await until(async () => (at('/outbox').length > 0 ? true : undefined), 'the delivery after restart', 15_000);
        const log = await until(async () => {
          const r = await second.api('GET', `/api/v1/webhookDeliveries?taskId=${taskId}`, { key });
          return r.body.data.deliveries[0]?.state === 'delivered' ? r.body.data.deliveries : undefined;
        }, 'delivered');
        await new Promise((r) => setTimeout(r, 1500)); // a second sender poll finds nothing more to send
        expect(at('/outbox')).toHaveLength(1);
        expect(at('/outbox')[0]!.headers['webhook-id']).toBe(`msg_${taskId}`);
        expect(log).toHaveLength(1);
        expect(log[0].attempts).toHaveLength(1);
      } finally {
        await second.close();
      }
    } finally {
      await removeDataDir(dataDir);
    }
  });
});
