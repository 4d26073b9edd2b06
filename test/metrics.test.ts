import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator } from '../src/http/auth.js';
import { statusFastPath } from '../src/http/status-fast-path.js';
import { createMemoryRateLimiter } from '../src/limits/rate-limiter.js';
import { type FakeGemini, startFakeGemini } from './support/fake-gemini.js';
import { type Family, parsePrometheusText, sampleValue } from './support/prometheus-text.js';
import { startTestService, type TestService, waitForTask } from './support/service.js';
import { until } from './support/until.js';
import { type Receiver, startReceiver } from './support/webhook-receiver.js';

/**
 * GET /metrics (docs/operations.md#metrics): the admin token guards it, its text parses as
 * Prometheus' exposition format with every family, and the families move with real work — a
 * render on the local engine, a prompt refused by the content policy, callbacks to a real HTTPS
 * receiver, polls through the status fast path, and an upstream engine (a fake Gemini API) whose
 * model disappears under a task.
 */
const GEN = '/api/v1/generateTask/veo-3-1';
const STATUS_ROUTE = '/api/v1/statusTask/:model';
const FAMILIES: Record<string, Family['type']> = {
  longshot_tasks_submitted_total: 'counter',
  longshot_tasks_finished_total: 'counter',
  longshot_task_duration_seconds: 'histogram',
  longshot_queue_depth: 'gauge',
  longshot_engine_available: 'gauge',
  longshot_engine_breaker_open: 'gauge',
  longshot_engine_failures_total: 'counter',
  longshot_webhook_deliveries_total: 'counter',
  longshot_webhook_backlog: 'gauge',
  longshot_http_requests_total: 'counter',
  longshot_http_request_duration_seconds: 'histogram',
  longshot_captured_usd_total: 'counter',
  // Node's default process metrics, a few of them.
  process_cpu_user_seconds_total: 'counter',
  process_resident_memory_bytes: 'gauge',
  nodejs_heap_size_used_bytes: 'gauge',
  nodejs_eventloop_lag_seconds: 'gauge',
};

let rx: Receiver;
let gemini: FakeGemini;
/** Workers, callbacks to loopback allowed, and a Gemini engine on the `official` route. */
let t: TestService;
/** LONGSHOT_METRICS_PUBLIC=true and no workers: submitted tasks stay pending. */
let pub: TestService;
let admin = '';

beforeAll(async () => {
  [rx, gemini] = await Promise.all([startReceiver(), startFakeGemini()]);
  [t, pub] = await Promise.all([
    startTestService(
      {
        LONGSHOT_ALLOW_PRIVATE_CALLBACKS: 'true',
        GEMINI_API_KEY: gemini.apiKey,
        LONGSHOT_GEMINI_BASE_URL: gemini.url,
        LONGSHOT_ROUTES: 'official=gemini;value=local;auto=local',
      },
      { service: { callbackTransport: { ca: rx.ca } } },
    ),
    startTestService({ LONGSHOT_METRICS_PUBLIC: 'true' }, { workers: false }),
  ]);
  admin = t.service.firstAdminToken!;
});
afterAll(async () => {
  await Promise.all([t?.close(), pub?.close()]);
  await Promise.all([rx?.close(), gemini?.close()]);
});

async function scrape(svc: TestService, token: string | null = admin): Promise<Map<string, Family>> {
  const res = await fetch(`${svc.url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parsePrometheusText(await res.text());
}

/** How far a sample moved between two scrapes. */
const change = (before: Map<string, Family>, after: Map<string, Family>, name: string, labels: Record<string, string> = {}) =>
  sampleValue(after, name, labels) - sampleValue(before, name, labels);

async function submit(svc: TestService, body: object): Promise<string> {
  const res = await svc.api('POST', GEN, { body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data.taskId;
}

describe('access', () => {
  it('answers 401 without a token, with an API key and with a wrong token', async () => {
    for (const authorization of [undefined, `Bearer ${t.key}`, `Bearer lsa_${'x'.repeat(43)}`, `Bearer ${admin}`]) {
      const res = await fetch(`${t.url}/metrics`, { headers: authorization ? { authorization } : {} });
      if (authorization === `Bearer ${admin}`) {
        expect(res.status).toBe(200);
        continue;
      }
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ code: 401, data: { error: expect.stringMatching(/admin token/) } });
    }
  });

  it('is open with LONGSHOT_METRICS_PUBLIC=true', async () => {
    const res = await fetch(`${pub.url}/metrics`);
    expect(res.status).toBe(200);
    expect(parsePrometheusText(await res.text()).has('longshot_queue_depth')).toBe(true);
  });
});

describe('the exposition', () => {
  it('parses, with every family and its type', async () => {
    const fams = await scrape(t);
    for (const [name, type] of Object.entries(FAMILIES)) {
      expect(fams.get(name)?.type, name).toBe(type);
      expect(fams.get(name)?.help, name).not.toBe('');
    }
    // Series that exist before anything happened, so rate() has a start.
    expect(fams.get('longshot_tasks_submitted_total')!.samples.map((s) => s.labels)).toContainEqual({ model: 'veo-3-1-extend', mode: 'quality' });
    expect(
      fams
        .get('longshot_engine_failures_total')!
        .samples.map((s) => s.labels.engine)
        .sort(),
    ).toEqual(['gemini', 'local']);
    expect(
      fams
        .get('longshot_webhook_deliveries_total')!
        .samples.map((s) => s.labels.result)
        .sort(),
    ).toEqual(['delivered', 'failed', 'gone', 'retry']);
    expect(sampleValue(fams, 'longshot_engine_available', { engine: 'gemini' })).toBe(1);
  });
});

describe('the families move', () => {
  /** The rendered task of the first test, polled again later. */
  let rendered = '';

  it('counts submits, ends, durations, money, webhooks and polls', async () => {
    const before = await scrape(t);

    const okId = await submit(t, { request_type: 'callback', callback_url: `${rx.url}/ok`, input: { prompt: 'a calm ocean at sunset', mode: 'fast' } });
    // The render's callback is refused once (a retry is scheduled 30 s out); the refusal's is taken.
    rx.answer = (r) => (r.body.includes(okId) ? { status: 500 } : { status: 200 });
    const refusedId = await submit(t, { request_type: 'callback', callback_url: `${rx.url}/refused`, input: { prompt: 'a porn film set', mode: 'fast' } });
    expect((await waitForTask(t, 'veo-3-1', okId)).state).toBe('success');
    rendered = okId;
    expect(await waitForTask(t, 'veo-3-1', refusedId)).toMatchObject({ state: 'failed', failCode: 'CONTENT_VIOLATION' });
    const after = await until(async () => {
      const f = await scrape(t);
      const attempts = (result: string) => change(before, f, 'longshot_webhook_deliveries_total', { result });
      return attempts('retry') >= 1 && attempts('delivered') >= 1 ? f : undefined;
    }, 'both webhook attempts in the metrics');
    const moved = (name: string, labels: Record<string, string> = {}) => change(before, after, name, labels);

    expect(moved('longshot_tasks_submitted_total', { model: 'veo-3-1', mode: 'fast' })).toBe(2);
    expect(moved('longshot_tasks_submitted_total', { model: 'veo-3-1', mode: 'quality' })).toBe(0);
    const done = { model: 'veo-3-1', engine: 'local', state: 'success', fail_code: '' };
    expect(moved('longshot_tasks_finished_total', done)).toBe(1);
    expect(moved('longshot_tasks_finished_total', { model: 'veo-3-1', engine: '', state: 'failed', fail_code: 'CONTENT_VIOLATION' })).toBe(1);
    expect(moved('longshot_task_duration_seconds_count', { model: 'veo-3-1', engine: 'local' })).toBe(1);
    expect(moved('longshot_task_duration_seconds_sum', { model: 'veo-3-1', engine: 'local' })).toBeGreaterThan(0);
    expect(moved('longshot_task_duration_seconds_count', { model: 'veo-3-1', engine: '' })).toBe(1);
    // The refusal was refused before any engine ran: no engine failure.
    expect(moved('longshot_engine_failures_total', { engine: 'local' })).toBe(0);
    // Only the render is paid for: the fast price, $0.20.
    expect(moved('longshot_captured_usd_total', { model: 'veo-3-1' })).toBeCloseTo(0.2, 9);
    expect(moved('longshot_captured_usd_total', { model: 'veo-3-1-extend' })).toBe(0);
    expect(moved('longshot_webhook_deliveries_total', { result: 'retry' })).toBe(1);
    expect(moved('longshot_webhook_deliveries_total', { result: 'delivered' })).toBe(1);
    // The render's delivery waits for its retry.
    expect(sampleValue(after, 'longshot_webhook_backlog')).toBe(1);
    expect(sampleValue(after, 'longshot_queue_depth', { state: 'pending' })).toBe(0);
    expect(sampleValue(after, 'longshot_queue_depth', { state: 'processing' })).toBe(0);
    expect(moved('longshot_http_requests_total', { route: '/api/v1/generateTask/:model', status: '200' })).toBe(2);
    expect(moved('longshot_http_requests_total', { route: STATUS_ROUTE, status: '200' })).toBeGreaterThanOrEqual(2);

    // Exactly these polls: five plain ones (the fast path on SQLite) and one that takes the route.
    const polled = await scrape(t);
    for (let i = 0; i < 5; i++) expect((await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${okId}`)).status).toBe(200);
    expect((await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${okId}&wait=0`)).status).toBe(200);
    expect((await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${'0'.repeat(32)}`)).status).toBe(404);
    expect((await t.api('GET', '/no/such/route')).status).toBe(404);
    const next = await scrape(t);
    const polls = (name: string, labels: Record<string, string>) => change(polled, next, name, labels);
    expect(polls('longshot_http_requests_total', { route: STATUS_ROUTE, status: '200' })).toBe(6);
    expect(polls('longshot_http_request_duration_seconds_count', { route: STATUS_ROUTE })).toBe(7);
    expect(polls('longshot_http_requests_total', { route: STATUS_ROUTE, status: '404' })).toBe(1);
    expect(polls('longshot_http_requests_total', { route: 'unmatched', status: '404' })).toBe(1);
    // Scrapes are requests too; no raw URL ever becomes a label.
    expect(polls('longshot_http_requests_total', { route: '/metrics', status: '200' })).toBe(1);
    expect(next.get('longshot_http_requests_total')!.samples.every((s) => !/[0-9a-f]{32}|\?/.test(s.labels.route!))).toBe(true);
  });

  it('counts polls answered by the status fast path itself', async () => {
    const deps = t.service.deps;
    if (!deps.db.selectTaskNow) return; // PostgreSQL: the fast path declines every poll (reads are asynchronous)
    // The fast path alone on its own server (as in status-fast-path.test.ts): whatever it counts, Fastify never saw.
    const auth = createAuthenticator(deps.db, deps.clock, 60_000);
    const fast = statusFastPath(deps, auth, createMemoryRateLimiter());
    const server: Server = createServer((req, res) => {
      void auth.authenticate(req.headers.authorization).then(() => {
        if (fast.handle(req, res)) return;
        res.statusCode = 599;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const before = await scrape(t);
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/v1/statusTask/veo-3-1?taskId=${rendered}`;
      for (let i = 0; i < 3; i++) expect((await fetch(url, { headers: { authorization: `Bearer ${t.key}` } })).status).toBe(200);
      const after = await scrape(t);
      const route = { route: STATUS_ROUTE };
      expect(change(before, after, 'longshot_http_requests_total', { ...route, status: '200' })).toBe(3);
      expect(change(before, after, 'longshot_http_request_duration_seconds_count', route)).toBe(3);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('reads the queue from the database', async () => {
    const before = await scrape(pub, null);
    await submit(pub, { input: { prompt: 'stays pending', mode: 'fast' } });
    await submit(pub, { input: { prompt: 'stays pending too', mode: 'quality' } });
    const after = await scrape(pub, null);
    expect(change(before, after, 'longshot_queue_depth', { state: 'pending' })).toBe(2);
    expect(sampleValue(after, 'longshot_queue_depth', { state: 'processing' })).toBe(0);
  });

  it('counts an upstream engine failure and shows the engine unavailable', async () => {
    const before = await scrape(t);
    // Google retires the model under the running service: the next submit answers 404.
    gemini.retired.add('veo-3.1-fast-generate-preview');
    const id = await submit(t, { provider: 'official', input: { prompt: 'a lighthouse', mode: 'fast' } });
    expect(await waitForTask(t, 'veo-3-1', id)).toMatchObject({ state: 'failed', failCode: 'UPSTREAM_ERROR' });
    const after = await scrape(t);
    expect(change(before, after, 'longshot_engine_failures_total', { engine: 'gemini' })).toBe(1);
    expect(sampleValue(before, 'longshot_engine_available', { engine: 'gemini' })).toBe(1);
    expect(sampleValue(after, 'longshot_engine_available', { engine: 'gemini' })).toBe(0);
    expect(sampleValue(after, 'longshot_engine_breaker_open', { engine: 'gemini' })).toBe(0);
    const ended = { model: 'veo-3-1', engine: 'gemini', state: 'failed', fail_code: 'UPSTREAM_ERROR' };
    expect(change(before, after, 'longshot_tasks_finished_total', ended)).toBe(1);
  });
});
