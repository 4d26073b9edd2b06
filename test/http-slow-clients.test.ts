import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstResponse, type RawConnection, rawConnect } from './support/raw-http.js';
import { startTestService, type TestService } from './support/service.js';

/**
 * Slow-client attacks (a slowloris flood of bodies and headers, idle sockets, too many sockets)
 * must not take the service down. The timeouts are configured small so the test stays short;
 * every wait below is a bound on a failure, not a measured time.
 */
const SLOW_ENV = {
  LONGSHOT_REQUEST_TIMEOUT_MS: '3000',
  LONGSHOT_HEADERS_TIMEOUT_MS: '1000',
  LONGSHOT_KEEPALIVE_TIMEOUT_MS: '1000',
};
const BOUND_MS = 15_000;
const SUBMIT_HEAD = (extra = '') =>
  `POST /api/v1/generateTask/veo-3-1 HTTP/1.1\r\nHost: x\r\n${extra}Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n`;

let t: TestService;
let taskId = '';
beforeAll(async () => {
  t = await startTestService(SLOW_ENV, { workers: false }); // no workers: the task stays pending
  taskId = (await t.api('POST', '/api/v1/generateTask/veo-3-1', { body: { input: { prompt: 'slow clients', mode: 'fast' } } })).body.data.taskId;
});
afterAll(() => t?.close());

const responses = (c: RawConnection) => c.received().match(/HTTP\/1\.1 \d{3}/g) ?? [];

describe('slow clients', () => {
  it('closes a flood of slow bodies and headers while real clients, long-polls and SSE are served', async () => {
    const flood = await Promise.all(Array.from({ length: 300 }, () => rawConnect(t.url, SUBMIT_HEAD())));
    const authed = await Promise.all([0, 1, 2].map(() => rawConnect(t.url, SUBMIT_HEAD(`Authorization: Bearer ${t.key}\r\n`))));
    const slowHeaders = await Promise.all([0, 1, 2].map(() => rawConnect(t.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ')));
    for (const c of [...flood, ...authed]) c.trickle(200);
    for (const c of slowHeaders) c.trickle(200, 'x');
    try {
      const health = await fetch(`${t.url}/healthz`);
      const openWhenServed = flood.filter((c) => !c.closed).length;
      expect(health.status).toBe(200);
      await health.arrayBuffer();
      expect(openWhenServed).toBeGreaterThan(0);
      expect((await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`)).body.data.state).toBe('pending');

      // Held on purpose for longer than the request timeout: the timeout covers receiving the
      // request, never the answer.
      const sse = await fetch(`${t.url}/api/v1/events/${taskId}`, { headers: { authorization: `Bearer ${t.key}` } });
      const reader = sse.body!.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toContain('event: status');
      let sseEnded = false;
      const sseDone = reader.read().then(
        () => (sseEnded = true),
        () => (sseEnded = true),
      );
      const poll = await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}&wait=4`);
      expect(poll.status).toBe(200);
      expect(poll.body.data.state).toBe('pending');

      const closed = await Promise.all([...flood, ...authed, ...slowHeaders].map((c) => c.whenClosed(BOUND_MS)));
      expect(closed.every(Boolean)).toBe(true);
      expect(flood.every((c) => c.closedByServer)).toBe(true);
      // Unauthenticated: answered 401 at once, and nothing more was written on the socket.
      expect(flood.every((c) => responses(c).length === 1 && firstResponse(c.received())?.status === 401)).toBe(true);
      // A slow body or slow headers still being received are answered 408 in the envelope.
      for (const c of [...authed, ...slowHeaders]) {
        const res = firstResponse(c.received());
        expect(res?.status).toBe(408);
        expect(res?.body).toMatchObject({ code: 408, message: 'Request timeout', data: { error: expect.any(String) } });
      }
      expect(sseEnded).toBe(false);
      await reader.cancel();
      await sseDone;
    } finally {
      for (const c of [...flood, ...authed, ...slowHeaders]) c.destroy();
    }
  });

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const c = await rawConnect(t.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    try {
      expect(await c.whenClosed(BOUND_MS)).toBe(true);
      expect(firstResponse(c.received())?.status).toBe(200);
      expect(c.closedByServer).toBe(true);
    } finally {
      c.destroy();
    }
  });
});

describe('connection cap', () => {
  it('refuses connections over LONGSHOT_MAX_CONNECTIONS and serves again once slow ones are cut', async () => {
    const capped = await startTestService({ ...SLOW_ENV, LONGSHOT_MAX_CONNECTIONS: '20' }, { workers: false });
    const held: RawConnection[] = [];
    try {
      for (let i = 0; i < 20; i++) held.push(await rawConnect(capped.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n'));
      const server = capped.service.app!.server;
      const count = () => new Promise<number>((r) => server.getConnections((_e, n) => r(n)));
      while ((await count()) < 20) await new Promise((r) => setTimeout(r, 20));
      const over = await rawConnect(capped.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      held.push(over);
      expect(await over.whenClosed(BOUND_MS)).toBe(true);
      expect(over.closedByServer).toBe(true);
      expect(over.received()).toBe('');
      // The held ones never finish their headers: the headers timeout frees their slots.
      expect((await Promise.all(held.map((c) => c.whenClosed(BOUND_MS)))).every(Boolean)).toBe(true);
      const res = await fetch(`${capped.url}/healthz`);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    } finally {
      for (const c of held) c.destroy();
      await capped.close();
    }
  });
});
