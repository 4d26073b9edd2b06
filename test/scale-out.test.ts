import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type ChildService, startChildService, waitForExit } from './support/child-service.js';
import { createPgSchema } from './support/databases.js';
import { available } from './support/requires.js';
import { S3_TEST_CREDENTIALS, s3Unavailable, startTestS3 } from './support/s3-server.js';

/**
 * Issue #7: many API and worker processes on one PostgreSQL database. Two `serve --role api`
 * processes take submits; three `serve --role worker` processes run them while the test kills
 * (SIGKILL) a random worker every 1-2 s and starts a new one (until the fail-fast tasks are done;
 * then the real renders, themselves killed and resumed on the way, get to finish). Then: every task ended exactly
 * once, the ledger reconciles to the cent, every callback arrived at least once, and each task
 * has exactly one webhook-id (at-least-once delivery, receivers dedupe on it).
 *
 * Scaled down from the 500 tasks to keep the run near a minute on a 2-core machine:
 * FAIL_FAST tasks fail at once with INVALID_IMAGE_URL (an image on a private address) and
 * exercise claim, settle, ledger and webhooks; REAL tasks render an actual video with the local
 * engine. Result files go to a local S3-compatible server when one is available (each process
 * then has its own data dir: nothing is shared through the disk), else to one shared data dir
 * (standing in for a shared volume). Runs only when DATABASE_URL is set.
 */
const FAIL_FAST = 80;
const REAL = 2;
/** The chaos phase lasts until every fail-fast task is final and at least this many kills. */
const MIN_KILLS = 4;
const WORKERS = 3;

const base = process.env.DATABASE_URL;
const children = new Set<ChildService>();
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of children) c.child.kill('SIGKILL');
  for (const f of cleanups.reverse()) await f().catch(() => {});
});

interface Hook {
  taskId: string;
  webhookId: string;
  state: string;
}

async function startHttpReceiver(): Promise<{ url: string; hooks: Hook[]; server: Server }> {
  const hooks: Hook[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      try {
        const data = JSON.parse(body).data;
        hooks.push({ taskId: data.taskId, webhookId: String(req.headers['webhook-id']), state: data.state });
      } catch {
        // not ours
      }
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, hooks, server };
}

async function api(url: string, key: string, method: string, path: string, body?: unknown) {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!available('PostgreSQL (DATABASE_URL)', base ? null : 'DATABASE_URL is not set'))(
  'scale-out on PostgreSQL (skipped: set DATABASE_URL to run it)',
  () => {
    it('2 API and 3 worker processes, workers killed at random: each task ends once, ledger and webhooks reconcile', async () => {
      const schema = `scale_${randomBytes(5).toString('hex')}`;
      const db = await createPgSchema(base!, schema);
      cleanups.push(db.drop);
      const dataDir = await mkdtemp(join(tmpdir(), 'longshot-scale-'));
      cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
      const receiver = await startHttpReceiver();
      cleanups.push(() => new Promise((r) => receiver.server.close(() => r())));

      let storage: Record<string, string> = {};
      if (s3Unavailable() === null) {
        const s3 = await startTestS3(`longshot-scale-${randomBytes(4).toString('hex')}`);
        cleanups.push(() => s3.close());
        storage = {
          LONGSHOT_S3_BUCKET: s3.bucket,
          LONGSHOT_S3_ENDPOINT: s3.endpoint,
          AWS_ACCESS_KEY_ID: S3_TEST_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: S3_TEST_CREDENTIALS.secretAccessKey,
        };
      }
      let dirs = 0;
      const env: Record<string, string> = {
        ...storage,
        DATABASE_URL: db.url,
        LONGSHOT_DATA_DIR: dataDir,
        LONGSHOT_ALLOW_PRIVATE_CALLBACKS: 'true',
        LONGSHOT_SUBMIT_RPM: '0',
        LONGSHOT_STATUS_RPM: '0',
        LONGSHOT_MAX_UNFINISHED: '0',
        LONGSHOT_INITIAL_CREDIT_USD: '1000',
        // A killed worker's tasks come back within ~2 s; kills must not use up a task's attempts.
        LONGSHOT_LEASE_MS: '2000',
        LONGSHOT_MAX_ATTEMPTS: '20',
        LONGSHOT_WEBHOOK_TIMEOUT_MS: '2000',
        LONGSHOT_WEBHOOK_RETRY_SCHEDULE: '200ms,500ms,1s,2s,2s,2s,2s,2s',
        LONGSHOT_SHUTDOWN_GRACE_SECONDS: '1',
        ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
      };
      const start = async (role: 'api' | 'worker', extra: Record<string, string> = {}) => {
        const own: Record<string, string> = storage.LONGSHOT_S3_BUCKET ? { LONGSHOT_DATA_DIR: join(dataDir, `p${dirs++}`) } : {};
        const c = await startChildService({ ...env, ...own, ...extra }, ['--role', role]);
        children.add(c);
        // A process that dies on its own (not killed by the test) is a bug: show why.
        c.child.on('exit', (code, signal) => {
          if (signal === null && code !== 0) process.stderr.write(`longshot ${role} exited with ${code}:\n${c.output().slice(-4000)}\n`);
        });
        return c;
      };
      // The first API process migrates the schema and creates the default account; the rest follow.
      const api1 = await start('api');
      const key = api1.key!;
      expect(key).toMatch(/^lsk_/);
      const api2 = await start('api');
      expect(api2.key).toBeNull();
      const workerEnv = { LONGSHOT_PUBLIC_URL: api1.url, LONGSHOT_WORKERS: '2' };
      let workers = await Promise.all(Array.from({ length: WORKERS }, () => start('worker', workerEnv)));

      // Chaos: kill a random worker and start a fresh one, until told to stop.
      let chaos = process.env.SCALE_OUT_CHAOS !== '0';
      let kills = 0;
      const chaosLoop = (async () => {
        await sleep(500);
        while (chaos) {
          const victim = workers[Math.floor(Math.random() * workers.length)]!;
          victim.child.kill('SIGKILL');
          await waitForExit(victim.child);
          children.delete(victim);
          kills++;
          const fresh = await start('worker', workerEnv);
          workers = workers.map((w) => (w === victim ? fresh : w));
          await sleep(1000 + Math.random() * 1000);
        }
      })();

      // Submit through both APIs, interleaved.
      const t0 = Date.now();
      const apis = [api1.url, api2.url];
      const submitted: Array<{ taskId: string; real: boolean }> = [];
      const bodies = [
        ...Array.from({ length: FAIL_FAST }, (_, i) => ({
          real: false,
          body: {
            request_type: 'callback',
            callback_url: `${receiver.url}?n=${i}`,
            input: { prompt: `fail fast ${i}`, mode: 'fast', generationType: 'REFERENCE_2_VIDEO', image_urls: ['http://10.255.255.1/ref.png'] },
          },
        })),
        ...Array.from({ length: REAL }, (_, i) => ({
          real: true,
          body: { request_type: 'callback', callback_url: `${receiver.url}?real=${i}`, input: { prompt: `a real render ${i}`, mode: 'fast', seed: i } },
        })),
      ];
      // Real renders first, so they are in flight while workers die.
      bodies.reverse();
      await Promise.all(
        bodies.map(async (b, i) => {
          await sleep(i * 40);
          const res = await api(apis[i % 2]!, key, 'POST', '/api/v1/generateTask/veo-3-1', b.body);
          expect(res.status, JSON.stringify(res.body)).toBe(200);
          submitted.push({ taskId: res.body.data.taskId, real: b.real });
        }),
      );

      // Wait until every task is final, reading through both APIs.
      const final = new Map<string, any>();
      const deadline = Date.now() + 80_000;
      const failFastDone = () => submitted.every((s) => s.real || final.has(s.taskId));
      while (final.size < submitted.length) {
        if (chaos && failFastDone() && kills >= MIN_KILLS) chaos = false;
        if (Date.now() > deadline) {
          const c = new pg.Client({ connectionString: db.url });
          await c.connect();
          const st = (await c.query(`select state, fail_code, count(*)::int as n, max(attempts) as a from tasks group by 1, 2`)).rows;
          await c.end();
          const logs = [...children].map((ch) => ch.output().slice(-2000)).join('\n---\n');
          throw new Error(`only ${final.size}/${submitted.length} tasks final after ${kills} kills: ${JSON.stringify(st)}\n${logs}`);
        }
        await Promise.all(
          submitted
            .filter((s) => !final.has(s.taskId))
            .map(async (s, i) => {
              const res = await api(apis[i % 2]!, key, 'GET', `/api/v1/statusTask/veo-3-1?taskId=${s.taskId}`);
              if (res.body.data.state === 'success' || res.body.data.state === 'failed') final.set(s.taskId, res.body.data);
            }),
        );
        await sleep(300);
      }
      chaos = false;
      await chaosLoop;
      // Kills happen only while tasks are unfinished; on a loaded machine the tasks may all be done
      // before MIN_KILLS, but never before a couple of workers died under them.
      expect(kills).toBeGreaterThanOrEqual(2);
      process.stdout.write(
        `scale-out: ${submitted.length} tasks final ${Math.round((Date.now() - t0) / 1000)} s after the first submit, ${kills} workers killed\n`,
      );

      for (const s of submitted) {
        const d = final.get(s.taskId);
        if (s.real) expect(d.state, JSON.stringify(d)).toBe('success');
        else expect(d, JSON.stringify(d)).toMatchObject({ state: 'failed', failCode: 'INVALID_IMAGE_URL' });
      }

      // Every callback arrives at least once, and each task has one webhook-id for its one outcome.
      const hookDeadline = Date.now() + 45_000;
      const taskIds = new Set(submitted.map((s) => s.taskId));
      for (;;) {
        const seen = new Set(receiver.hooks.map((h) => h.taskId));
        if ([...taskIds].every((id) => seen.has(id))) break;
        if (Date.now() > hookDeadline) throw new Error(`callbacks for ${[...taskIds].filter((id) => !seen.has(id)).length} tasks never arrived`);
        await sleep(250);
      }
      for (const id of taskIds) {
        const mine = receiver.hooks.filter((h) => h.taskId === id);
        expect(new Set(mine.map((h) => h.webhookId)).size, `webhook ids of ${id}`).toBe(1);
        expect(new Set(mine.map((h) => h.state))).toEqual(new Set([final.get(id).state]));
      }

      // The ledger: one hold and one capture (success) or release (failure) per task, totals exact.
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      cleanups.push(() => c.end());
      const rows = (await c.query(`select task_id, kind, amount_micros::int as amount from ledger_entries where task_id is not null`)).rows as Array<{
        task_id: string;
        kind: string;
        amount: number;
      }>;
      let captured = 0;
      for (const s of submitted) {
        const entries = rows
          .filter((r) => r.task_id === s.taskId)
          .map((r) => r.kind)
          .sort();
        const outcome = final.get(s.taskId).state === 'success' ? 'capture' : 'release';
        expect(entries, s.taskId).toEqual(['hold', outcome].sort());
        if (outcome === 'capture') captured += rows.find((r) => r.task_id === s.taskId && r.kind === 'capture')!.amount;
      }
      const tasks = (await c.query(`select state, count(*)::int as n from tasks group by state`)).rows;
      expect(Object.fromEntries(tasks.map((r) => [r.state, r.n]))).toEqual({ success: REAL, failed: FAIL_FAST });
      const bal = (await c.query(`select credit_micros::bigint as c, held_micros::bigint as h, captured_micros::bigint as k from balances`)).rows[0];
      expect({ held: Number(bal.h), captured: Number(bal.k) }).toEqual({ held: 0, captured });
      expect(captured).toBe(REAL * 200_000);
      // The real results are served by an API process that did not render them.
      for (const s of submitted.filter((x) => x.real)) {
        const fileUrl = JSON.parse(final.get(s.taskId).resultJson).resultUrls[0] as string;
        const res = await fetch(fileUrl.replace(api1.url, api2.url), { headers: { range: 'bytes=0-7' } });
        expect(res.status).toBe(206);
        expect(
          Buffer.from(await res.arrayBuffer())
            .subarray(4, 8)
            .toString(),
        ).toBe('ftyp');
      }
      const balance = await api(api2.url, key, 'GET', '/api/v1/apikeys/current-balance');
      expect(balance.body.data).toBe(1000 - (REAL * 200_000) / 1_000_000);

      // Every process stops gracefully.
      for (const ch of [...children]) {
        ch.child.kill('SIGTERM');
        expect((await waitForExit(ch.child)).code).toBe(0);
        children.delete(ch);
      }
    }, 170_000);
  },
);
