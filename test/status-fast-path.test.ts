import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimNextTask } from '../src/db/claim-task.js';
import { findTaskStatus, findTaskStatusNow, STATUS_COLUMNS } from '../src/db/tasks-repo.js';
import { createAuthenticator } from '../src/http/auth.js';
import { countedDecision, statusFastPath } from '../src/http/status-fast-path.js';
import { createMemoryRateLimiter } from '../src/limits/rate-limiter.js';
import { createRedisRateLimiter } from '../src/limits/redis-rate-limiter.js';
import { settleSuccess } from '../src/services/settle-task.js';
import { available } from './support/requires.js';
import { startTestService, type TestService } from './support/service.js';
import { successFields } from './support/task-rows.js';

/**
 * The status fast path (src/http/status-fast-path.ts) must answer exactly what the statusTask
 * route answers, and hand every other request on. It is served here on its own loopback server
 * (a request it declines gets 599) and compared with the full route of a running service, reached
 * with `&wait=0`, which the fast path always declines.
 */
let t: TestService;
let fastServer: Server;
let fastUrl: string;
/** SQLite answers every read synchronously; PostgreSQL only a row its cache keeps (test/pg-status-cache.test.ts). */
const sync = () => t.service.deps.db.dialect === 'sqlite';
const GEN = '/api/v1/generateTask/veo-3-1';
const DECLINED = 599;

beforeAll(async () => {
  t = await startTestService({}, { workers: false });
  const deps = t.service.deps;
  const auth = createAuthenticator(deps.db, deps.clock, 60_000);
  const fast = statusFastPath(deps, auth, createMemoryRateLimiter());
  fastServer = createServer((req, res) => {
    // Keys become known to the fast path the way they do in the service: by a first lookup.
    void auth.authenticate(req.headers.authorization).then(() => {
      if (fast.handle(req, res)) return;
      res.statusCode = DECLINED;
      res.end();
    });
  });
  await new Promise<void>((r) => fastServer.listen(0, '127.0.0.1', r));
  fastUrl = `http://127.0.0.1:${(fastServer.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise((r) => fastServer?.close(r));
  await t?.close();
});

const viaFast = (path: string, key = t.key) => fetch(fastUrl + path, { headers: { authorization: `Bearer ${key}` } });
const viaRoute = (path: string, key = t.key) => fetch(`${t.url}${path}&wait=0`, { headers: { authorization: `Bearer ${key}` } });
/** Signed URLs carry their expiry second; two reads a second apart differ only there. */
const unsigned = (text: string) => text.replace(/expires=\d+&sig=[\w-]+/g, 'expires=E&sig=S');
const headerNames = (res: Response) => [...res.headers.keys()].filter((h) => h !== 'date' && h !== 'x-request-id').sort();

async function submitted(): Promise<string> {
  const res = await t.api('POST', GEN, { body: { input: { prompt: 'fast path', mode: 'fast' } } });
  expect(res.status).toBe(200);
  return res.body.data.taskId;
}

describe('status fast path', () => {
  it("answers pending, failed and successful tasks with the route's exact bytes and headers", async () => {
    if (!sync()) return; // PostgreSQL: a row not yet kept takes the full route (test/pg-status-cache.test.ts)
    const done = await submitted();
    const deps = t.service.deps;
    const claimed = await claimNextTask(deps.db, deps.clock.now(), 60_000, 'tok');
    expect(claimed?.id).toBe(done);
    await settleSuccess(deps, claimed!, 'tok', successFields(done, deps.clock.now(), { result_etag: 'e' }));
    const pending = await submitted();
    const cancelled = await submitted();
    expect((await t.api('POST', `/api/v1/tasks/${cancelled}/cancel`)).status).toBe(200);

    for (const id of [pending, cancelled, done]) {
      const path = `/api/v1/statusTask/veo-3-1?taskId=${id}`;
      const fast = await viaFast(path);
      const route = await viaRoute(path);
      expect(fast.status).toBe(200);
      expect(route.status).toBe(200);
      expect(unsigned(await fast.text())).toBe(unsigned(await route.text()));
      expect(headerNames(fast)).toEqual(headerNames(route));
      expect(fast.headers.get('content-type')).toBe(route.headers.get('content-type'));
      expect(fast.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
    // The caller's own request id is kept, as on every route.
    const tagged = await fetch(`${fastUrl}/api/v1/statusTask/veo-3-1?taskId=${pending}`, {
      headers: { authorization: `Bearer ${t.key}`, 'x-request-id': 'poll-42' },
    });
    expect(tagged.headers.get('x-request-id')).toBe('poll-42');
  });

  it('reads the status columns by position exactly as a read by name gives them', async () => {
    if (!sync()) return;
    const id = await submitted();
    const db = t.service.deps.db;
    const { account_id: accountId } = await db.kysely.selectFrom('tasks').select('account_id').where('id', '=', id).executeTakeFirstOrThrow();
    // Every status column, read by name: a column the by-position read maps wrongly differs here.
    const byName = await db.kysely.selectFrom('tasks').select(STATUS_COLUMNS).where('id', '=', id).executeTakeFirstOrThrow();
    // …and the input's mode (for estimates, docs/api.md progress).
    expect(findTaskStatusNow(db, accountId, id)?.row).toEqual({ ...byName, mode: 'fast' });
    expect(await findTaskStatus(db, accountId, id)).toEqual({ ...byName, mode: 'fast' });
    expect(findTaskStatusNow(db, accountId, '0'.repeat(32))).toBeUndefined();
  });

  it('declines whatever it does not answer itself, so the full route decides', async () => {
    const id = await submitted();
    const other = await t.newAccount('fast-path-other');
    const cases = [
      `/api/v1/statusTask/veo-3-1?taskId=${id}&wait=5`, // long-poll
      `/api/v1/statusTask/veo-3-1-extend?taskId=${id}`, // the other model: a 404 for the route
      `/api/v1/statusTask/veo-3-1?taskId=${'0'.repeat(32)}`, // unknown task
      `/api/v1/statusTask/veo-3-1?taskId=${id.toUpperCase()}`, // not a task id
      `/api/v1/statusTask/veo-3-2?taskId=${id}`, // unknown model
      `/api/v1/statusTask/veo-3-1?taskId=${id}&taskId=${id}`,
    ];
    for (const path of cases) expect((await viaFast(path)).status, path).toBe(DECLINED);
    expect((await viaFast(`/api/v1/statusTask/veo-3-1?taskId=${id}`, other.key)).status).toBe(DECLINED); // another account's task
    expect((await viaFast(`/api/v1/statusTask/veo-3-1?taskId=${id}`, `lsk_${'x'.repeat(43)}`)).status).toBe(DECLINED); // unknown key
    expect((await viaFast(`/api/v1/statusTask/veo-3-1?taskId=${id}`)).status).toBe(sync() ? 200 : DECLINED);
  });

  it('counts a limited key once per read and leaves the 429 to the route with that count', async () => {
    const { key } = await t.newAccount('fast-path-limited', 10, { statusRpm: 3 });
    const sub = await t.api('POST', GEN, { key, body: { input: { prompt: 'limited', mode: 'fast' } } });
    const path = `/api/v1/statusTask/veo-3-1?taskId=${sub.body.data.taskId}`;
    const seen: Array<[number, string | null]> = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(t.url + path, { headers: { authorization: `Bearer ${key}` } });
      seen.push([res.status, res.headers.get('ratelimit')]);
    }
    const remaining = seen.map(([status, h]) => [status, h === null ? null : Number(/r=(\d+)/.exec(h)![1])]);
    expect(remaining).toEqual([
      [200, 2],
      [200, 1],
      [200, 0],
      [429, 0],
      [429, 0],
    ]);
  });
});

const redisUrl = process.env.REDIS_URL;
describe.skipIf(!available('Redis (REDIS_URL)', redisUrl ? null : 'REDIS_URL is not set'))('status fast path with a Redis rate limiter', () => {
  it('counts on Redis itself and answers, and leaves the 429 to the route with that count', async () => {
    const deps = t.service.deps;
    const redis = createRedisRateLimiter(redisUrl!);
    const auth = createAuthenticator(deps.db, deps.clock, 60_000);
    const fast = statusFastPath(deps, auth, redis);
    const refusedCounts: Array<string | null> = [];
    const server = createServer((req, res) => {
      void auth.authenticate(req.headers.authorization).then(() => {
        const decline = () => {
          refusedCounts.push(countedDecision(req) ? 'counted' : null);
          res.statusCode = DECLINED;
          res.end();
        };
        if (!fast.handle(req, res, decline)) decline();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      const { key } = await t.newAccount(`fast-path-redis-${Date.now()}`, 10, { statusRpm: 2 });
      const sub = await t.api('POST', GEN, { key, body: { input: { prompt: 'redis limited', mode: 'fast' } } });
      const path = `${url}/api/v1/statusTask/veo-3-1?taskId=${sub.body.data.taskId}`;
      const seen: Array<[number, string | null]> = [];
      for (let i = 0; i < 3; i++) {
        const res = await fetch(path, { headers: { authorization: `Bearer ${key}` } });
        seen.push([res.status, res.headers.get('ratelimit')]);
      }
      expect(seen.map(([status, h]) => [status, h === null ? null : Number(/r=(\d+)/.exec(h)![1])])).toEqual([
        [200, 1],
        [200, 0],
        [DECLINED, null],
      ]);
      expect(refusedCounts).toEqual(['counted']); // the route answers the 429 with the fast path's count
    } finally {
      await new Promise((r) => server.close(r));
      await redis.close();
    }
  });
});
