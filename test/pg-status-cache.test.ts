import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureInOneStatement } from '../src/db/capture-statement.js';
import { claimNextTask } from '../src/db/claim-task.js';
import type { Db } from '../src/db/connect.js';
import { channelPrefix, ROWS } from '../src/db/pg-channels.js';
import { pgRowBatcher } from '../src/db/pg-row-batch.js';
import { pgTaskCache } from '../src/db/pg-task-cache.js';
import { findTaskStatus, findTaskStatusNow, STATUS_COLUMNS, statusBatchOf } from '../src/db/tasks-repo.js';
import { createAuthenticator } from '../src/http/auth.js';
import { statusFastPath } from '../src/http/status-fast-path.js';
import { createMemoryRateLimiter } from '../src/limits/rate-limiter.js';
import { settleSuccess } from '../src/services/settle-task.js';
import { createPgSchema } from './support/databases.js';
import { available } from './support/requires.js';
import { startTestService, type TestService } from './support/service.js';
import { successFields } from './support/task-rows.js';
import { until } from './support/until.js';

/**
 * PostgreSQL's status row cache (src/db/pg-task-cache.ts, issue 19): a kept row must never
 * outlive a write to it, whoever wrote it. Two services on one schema stand for two API
 * processes (each has its own pool, cache and LISTEN connection); a plain `pg` client stands for
 * anyone else (the CLI, psql). "Kept" is observed as the synchronous read answering (it answers
 * only from memory on PostgreSQL).
 */
const base = process.env.DATABASE_URL;
const GEN = '/api/v1/generateTask/veo-3-1';
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const f of cleanups.reverse()) await f().catch(() => {});
});

describe.skipIf(!available('PostgreSQL (DATABASE_URL)', base ? null : 'DATABASE_URL is not set'))(
  'PostgreSQL status row cache (skipped: set DATABASE_URL to run it)',
  () => {
    let a: TestService;
    let b: TestService;
    let psql: pg.Client;
    let accountId: string;
    const schema = `t_rowcache_${randomBytes(4).toString('hex')}`;

    beforeAll(async () => {
      const { url: schemaUrl, drop } = await createPgSchema(base!, schema);
      cleanups.push(drop);
      // Named, so the test cuts only these services' connections (other suites share the server).
      const named = new URL(schemaUrl);
      named.searchParams.set('application_name', schema);
      const url = named.toString();
      a = await startTestService({ DATABASE_URL: url }, { workers: false });
      cleanups.push(() => a.close());
      b = await startTestService({ DATABASE_URL: url }, { workers: false });
      cleanups.push(() => b.close());
      psql = new pg.Client({ connectionString: schemaUrl });
      await psql.connect();
      cleanups.push(() => psql.end());
      accountId = (await psql.query('select account_id from api_keys limit 1')).rows[0].account_id;
    });

    const submit = async (svc: TestService) => {
      const res = await svc.api('POST', GEN, { key: a.key, body: { input: { prompt: 'row cache', mode: 'fast' } } });
      expect(res.status).toBe(200);
      return res.body.data.taskId as string;
    };
    const status = async (svc: TestService, id: string) => {
      const res = await svc.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${id}`, { key: a.key });
      expect(res.status).toBe(200);
      return res.body.data;
    };
    const kept = (db: Db, id: string) => findTaskStatusNow(db, accountId, id) !== null;
    const dbOf = (svc: TestService) => svc.service.deps.db;
    /** Until the row is kept again: the second of two reads is answered from memory. */
    const keptAfterReads = (svc: TestService, id: string) =>
      until(async () => {
        await status(svc, id);
        return kept(dbOf(svc), id) || undefined;
      }, 'the row to be kept');
    /** Ends both services' LISTEN connections (their last statement is the trigger check). */
    const cutListeners = () =>
      psql.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 and query like '%longshot_task_row_changed%'", [schema]);
    const failRow = (id: string, msg: string) =>
      psql.query("update tasks set state = 'failed', fail_code = 'UPSTREAM_ERROR', fail_msg = $2, complete_time = $3 where id = $1", [id, msg, Date.now()]);

    it('keeps a read row and answers the same object from memory until a write', async () => {
      const id = await submit(a);
      await keptAfterReads(a, id);
      const first = findTaskStatusNow(dbOf(a), accountId, id);
      expect(findTaskStatusNow(dbOf(a), accountId, id)).toBe(first);
      // Another account asking for it is not answered from this account's row.
      expect(findTaskStatusNow(dbOf(a), 'acct_other', id)).toBeNull();
    });

    it("sees another process's write on the next read after its notification, and this process's own at once", async () => {
      const id = await submit(a);
      await keptAfterReads(a, id);
      await keptAfterReads(b, id);
      // Another API process cancels it: this process drops the row when the trigger's NOTIFY arrives.
      const woken = a.service.deps.taskEvents.next(id, 600_000); // the trigger's NOTIFY wakes readers too
      expect((await b.api('POST', `/api/v1/tasks/${id}/cancel`, { key: a.key })).status).toBe(200);
      expect((await status(b, id)).state).toBe('failed'); // b's own write: at once, no waiting
      await woken;
      await until(async () => (kept(dbOf(a), id) ? undefined : true), "the other process's write to reach this cache");
      expect((await status(a, id)).state).toBe('failed');

      // A write by neither (psql, the CLI) is seen the same way.
      const other = await submit(a);
      await keptAfterReads(a, other);
      await failRow(other, 'written by psql');
      await until(async () => (kept(dbOf(a), other) ? undefined : true), "psql's write to reach the cache");
      const row = await psql.query('select fail_msg from tasks where id = $1', [other]);
      expect(JSON.stringify(await status(a, other))).toContain(row.rows[0].fail_msg);

      // This process's own delete: the very next read answers it, the kept row is gone at once.
      const gone = await submit(a);
      await keptAfterReads(a, gone);
      expect((await a.api('POST', `/api/v1/tasks/${gone}/cancel`, { key: a.key })).status).toBe(200);
      expect((await status(a, gone)).state).toBe('failed');
      await keptAfterReads(a, gone);
      expect((await a.api('DELETE', `/api/v1/tasks/${gone}`, { key: a.key })).status).toBe(200);
      expect(kept(dbOf(a), gone)).toBe(false);
    });

    it("a claim and a settle that keep the row trigger quiet reach the other process's kept row by the NOTIFY sent after their commit", async () => {
      const channel = `${channelPrefix(schema)}_${ROWS}`;
      const heard: string[] = [];
      const listener = new pg.Client({ connectionString: base! });
      await listener.connect();
      cleanups.push(() => listener.end());
      listener.on('notification', (m) => heard.push(m.payload ?? ''));
      await listener.query(`listen "${channel}"`);
      expect(b.service.deps.taskEvents.quietWrites?.()).toBe(true);
      /**
       * `write` commits and the trigger sends nothing (a later plain UPDATE's NOTIFY arrives, this
       * one's never does), so the other process still keeps the old row, until the hub sends the
       * NOTIFY after the commit: then it drops the row, once, and answers `state`.
       */
      const quietly = async (id: string, write: () => Promise<unknown>, state: string) => {
        await keptAfterReads(a, id);
        heard.length = 0;
        await write();
        await failRow(await submit(a), 'a later write, notified by the trigger');
        await until(async () => (heard.length > 0 ? true : undefined), "the later write's NOTIFY");
        expect(heard).not.toContain(id);
        expect(kept(dbOf(a), id)).toBe(true);
        b.service.deps.taskEvents.publish(id, true);
        await until(async () => (kept(dbOf(a), id) ? undefined : true), 'the NOTIFY after the commit to reach the cache');
        expect((await status(a, id)).state).toBe(state);
        expect(heard.filter((h) => h === id)).toEqual([id]);
      };

      await submit(a);
      const next = (await psql.query("select id from tasks where state = 'pending' order by run_after, id limit 1")).rows[0].id as string;
      await quietly(next, async () => expect((await claimNextTask(dbOf(b), Date.now(), 60_000, 'quiet-token', true))?.id).toBe(next), 'processing');
      await quietly(
        next,
        async () => expect(await captureInOneStatement(dbOf(b), next, 'quiet-token', Date.now(), successFields(next, Date.now()), true)).toBe(true),
        'success',
      );

      // Through settleSuccess, as a worker settles: heard once, seen by the other process.
      const settled = await submit(a);
      await psql.query("update tasks set state = 'processing', lease_token = 'worker-token', lease_expires_at = $2 where id = $1", [
        settled,
        Date.now() + 60_000,
      ]);
      await until(async () => (heard.includes(settled) ? true : undefined), "the plain UPDATE's NOTIFY");
      await keptAfterReads(a, settled);
      heard.length = 0;
      const row = (await psql.query('select * from tasks where id = $1', [settled])).rows[0];
      expect(await settleSuccess(b.service.deps, row, 'worker-token', successFields(settled, Date.now()))).toBe(true);
      await until(async () => (kept(dbOf(a), settled) ? undefined : true), "the worker's settle to reach the cache");
      expect((await status(a, settled)).state).toBe('success');
      expect(heard.filter((h) => h === settled)).toEqual([settled]);
    });

    it('reads PostgreSQL while its LISTEN connection is down, and trusts nothing kept from before it came back', async () => {
      const id = await submit(a);
      await keptAfterReads(a, id);
      await cutListeners();
      await until(async () => (kept(dbOf(a), id) ? undefined : true), 'the cache to turn off');
      // A write while nobody listens: its notification is lost. Reads go to PostgreSQL meanwhile.
      await failRow(id, 'written while the listener was down');
      expect((await status(a, id)).state).toBe('failed');
      expect(kept(dbOf(a), id)).toBe(false);
      // Back (the hub reconnects after 1 s): caching resumes, and what it keeps is the row as it is now.
      await keptAfterReads(a, id);
      expect(JSON.stringify(await status(a, id))).toContain('written while the listener was down');
      // And it is kept true again by notifications.
      await failRow(id, 'written after the reconnect');
      await until(async () => (kept(dbOf(a), id) ? undefined : true), 'the write after the reconnect to reach the cache');
      expect(JSON.stringify(await status(a, id))).toContain('written after the reconnect');
    });

    it("answers a row not kept yet, and a pending task, itself after one round trip, with the route's bytes", async () => {
      // The fast path alone on its own server: what it declines gets 599 (status-fast-path.test.ts).
      const deps = a.service.deps;
      const auth = createAuthenticator(deps.db, deps.clock, 60_000);
      const fast = statusFastPath(deps, auth, createMemoryRateLimiter());
      const declined = (_req: unknown, res: { statusCode: number; end(): void }) => {
        res.statusCode = 599;
        res.end();
      };
      const server: Server = createServer((req, res) => {
        void auth.authenticate(req.headers.authorization).then(() => {
          if (!fast.handle(req, res, declined)) declined(req, res);
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      cleanups.push(() => new Promise((r) => server.close(() => r())));
      const fastUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const viaFast = (path: string, key = a.key) => fetch(fastUrl + path, { headers: { authorization: `Bearer ${key}` } });
      const viaRoute = (path: string) => fetch(`${a.url}${path}&wait=0`, { headers: { authorization: `Bearer ${a.key}` } });
      const unsigned = (text: string) => text.replace(/expires=\d+&sig=[\w-]+/g, 'expires=E&sig=S');

      await submit(a); // ahead in the queue: the last one's queuePosition is 1
      const pending = await submit(a);
      const finished = await submit(a);
      await failRow(finished, 'ended for the fast path');
      for (const id of [pending, finished]) {
        const path = `/api/v1/statusTask/veo-3-1?taskId=${id}`;
        expect(kept(dbOf(a), id)).toBe(false);
        const res = await viaFast(path);
        expect(res.status).toBe(200);
        expect(unsigned(await res.text())).toBe(unsigned(await (await viaRoute(path)).text()));
      }
      expect(kept(dbOf(a), finished)).toBe(true); // the fast path's own read kept it
      expect((await (await viaFast(`/api/v1/statusTask/veo-3-1?taskId=${pending}`)).json()).data.queuePosition).toBeGreaterThan(0);
      // Declined after the read: no such task, another model's route, another account's key.
      expect((await viaFast(`/api/v1/statusTask/veo-3-1?taskId=${'0'.repeat(32)}`)).status).toBe(599);
      expect((await viaFast(`/api/v1/statusTask/veo-3-1-extend?taskId=${finished}`)).status).toBe(599);
      const other = await a.newAccount('fast-path-other');
      await auth.authenticate(`Bearer ${other.key}`);
      expect((await viaFast(`/api/v1/statusTask/veo-3-1?taskId=${pending}`, other.key)).status).toBe(599);
    });

    it('reads the polls of one turn in one statement, each row exactly as a read by name gives it', async () => {
      const ids = [await submit(a), await submit(a), await submit(a)];
      await failRow(ids[1]!, 'batched');
      const db = dbOf(a);
      const byName = async (id: string) => ({
        ...(await db.kysely.selectFrom('tasks').select(STATUS_COLUMNS).where('id', '=', id).executeTakeFirstOrThrow()),
        mode: 'fast',
      });
      const rows = await Promise.all(ids.map((id) => findTaskStatus(db, accountId, id)));
      for (const [i, id] of ids.entries()) expect(rows[i]).toEqual(await byName(id));

      // The batcher itself, on the same statement: one query for the turn, owners checked per row.
      const statements: Array<readonly string[]> = [];
      const batched = pgRowBatcher(async (text, batchIds) => {
        statements.push(batchIds);
        return (await psql.query({ text, values: [batchIds], rowMode: 'array' })).rows;
      });
      const text = statusBatchOf(db);
      const unknown = '0'.repeat(32);
      const got = await Promise.all([
        batched(text, ids[0]!, accountId),
        batched(text, ids[1]!, accountId),
        batched(text, ids[2]!, 'acct_someone_else'),
        batched(text, unknown, accountId),
      ]);
      expect(statements).toHaveLength(1);
      expect([...statements[0]!].sort()).toEqual([ids[0], ids[1], ids[2], unknown].sort());
      expect(got[0]?.[0]).toBe(ids[0]);
      expect(got[1]?.[2]).toBe('failed');
      expect(got[2]).toBeUndefined(); // another account's task is none
      expect(got[3]).toBeUndefined();
    });

    it('answers no kept row older than its age limit (a notification that never came)', async () => {
      let clock = 0;
      const pool = new pg.Pool({ connectionString: base, max: 1 });
      cleanups.push(() => pool.end());
      const cache = pgTaskCache(async (text, params) => (await pool.query<unknown[]>({ text, values: [...params], rowMode: 'array' })).rows[0], {
        maxAgeMs: 1000,
        now: () => clock,
      });
      const sql = 'select $1::text as id';
      cache.listening(true);
      const row = await cache.read('x', sql, ['x'], (v) => v);
      clock = 1000;
      expect(cache.peek('x', sql, ['x'])).toBe(row);
      clock = 1001;
      expect(cache.peek('x', sql, ['x'])).toBeNull();
    });

    it('a read that a notification for its row overtakes is answered but not kept', async () => {
      const pool = new pg.Pool({ connectionString: base, max: 1 });
      cleanups.push(() => pool.end());
      const cache = pgTaskCache(async (text, params) => (await pool.query<unknown[]>({ text, values: [...params], rowMode: 'array' })).rows[0]);
      const asIs = (v: unknown[]) => v;
      const sql = 'select $1::text as id, now() as at';
      cache.listening(true);
      const reading = cache.read('x', sql, ['x'], asIs);
      cache.changed('x'); // arrives while the read is on the wire: the read may predate that write
      expect(await reading).toHaveLength(2);
      expect(cache.peek('x', sql, ['x'])).toBeNull();
      const again = await cache.read('x', sql, ['x'], asIs);
      expect(cache.peek('x', sql, ['x'])).toBe(again);
      // Other parameters (another account) are a different read.
      expect(cache.peek('x', sql, ['y'])).toBeNull();
      // A reconnect during a read: not kept either; and losing the listener drops everything.
      const spanning = cache.read('z', sql, ['z'], asIs);
      cache.listening(false);
      cache.listening(true);
      await spanning;
      expect(cache.peek('z', sql, ['z'])).toBeNull();
      cache.listening(false);
      expect(cache.peek('x', sql, ['x'])).toBeNull();
      expect(cache.size()).toBe(0);
    });

    it('keeps nothing when the row trigger is missing or disabled, and task events then travel on their own NOTIFY', { timeout: 60_000 }, async () => {
      const id = await submit(a);
      await keptAfterReads(a, id);
      await psql.query('alter table tasks disable trigger longshot_task_row_changed');
      try {
        await cutListeners();
        await until(async () => (kept(dbOf(a), id) ? undefined : true), 'the cache to turn off');
        // Reconnected (the listener's trigger check ran again) and still not caching.
        await until(async () => {
          const r = await psql.query(
            "select count(*)::int as n from pg_stat_activity where application_name = $1 and query like '%longshot_task_row_changed%' and state = 'idle'",
            [schema],
          );
          return r.rows[0].n >= 2 || undefined;
        }, 'the listeners to reconnect');
        await status(a, id);
        await status(a, id);
        expect(kept(dbOf(a), id)).toBe(false);
        // Another process's write still wakes this process's readers (without the trigger the
        // writer sends the task event itself): resolves on that event, or only after 10 minutes.
        const woken = a.service.deps.taskEvents.next(id, 600_000);
        expect((await b.api('POST', `/api/v1/tasks/${id}/cancel`, { key: a.key })).status).toBe(200);
        await woken;
        expect((await status(a, id)).state).toBe('failed');
      } finally {
        await psql.query('alter table tasks enable trigger longshot_task_row_changed');
      }
    });
  },
);
