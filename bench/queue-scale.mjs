// npm run build && node bench/queue-scale.mjs: claims + settles per second on PostgreSQL by 2 worker processes running
// bench/queue-worker.mjs (the product's claimNextTask + settleSuccess from dist/), the queue
// figure of bench/scale-out.mjs measured alone: the schema is made by the product's migrations
// and filled by SQL with BENCH_QUEUE_PENDING pending tasks (each with its hold in the ledger and
// the balance, as a submit leaves it) behind BENCH_QUEUE_FINISHED finished ones, so a before/after
// takes a minute instead of the whole scale-out run. A fresh schema, dropped at the end.
//
// DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), BENCH_DURATION (s, default 10),
// BENCH_WARMUP (s, default 2), BENCH_QUEUE_LOOPS (claim loops per process, default 2, as
// LONGSHOT_WORKERS), BENCH_QUEUE_PENDING (default 30000), BENCH_QUEUE_FINISHED (default 50000),
// BENCH_QUEUE_ACCOUNTS (accounts the tasks belong to, round robin; default 1: every settle
// updates the same balance row, the worst case). Prints one JSON line; CPU from /proc (Linux).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import pg from 'pg';
import { openPostgres } from '../dist/db/connect.js';
import { migrateToLatest } from '../dist/db/migrations.js';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const LOOPS = Number(process.env.BENCH_QUEUE_LOOPS ?? 2);
const PENDING = Number(process.env.BENCH_QUEUE_PENDING ?? 30_000);
const FINISHED = Number(process.env.BENCH_QUEUE_FINISHED ?? 50_000);
const ACCOUNTS = Number(process.env.BENCH_QUEUE_ACCOUNTS ?? 1);
const PRICE = 1_000_000;
const BASE_URL = process.env.DATABASE_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/test';
const root = new URL('..', import.meta.url).pathname;

/** CPU ms (user + system) of a process, or null when it is gone. USER_HZ = 100. */
function cpuMs(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return null;
  }
}
const cpuOf = (pids) => new Map(pids.map((p) => [p, cpuMs(p) ?? 0]));
const spent = (before, after) => [...after].reduce((a, [pid, ms]) => a + ms - (before.get(pid) ?? 0), 0);

const schema = `bench_queue_${randomBytes(4).toString('hex')}`;
const app = `lsqueue_${schema}`;
const admin = new pg.Client({ connectionString: BASE_URL });
await admin.connect();
await admin.query(`create schema ${schema}`);
const url = new URL(BASE_URL);
url.searchParams.set('options', `-c search_path=${schema}`);
const children = [];
try {
  const db = openPostgres(url.toString());
  await migrateToLatest(db.kysely);
  await db.close();
  const s = schema;
  // Rows as a submit writes them (poll tasks, no callback, a hold each); ids sort as they were made.
  await admin.query(`
    insert into ${s}.accounts select 'acc' || a, 'acc' || a, 'secret', 0 from generate_series(0, ${ACCOUNTS - 1}) a;
    insert into ${s}.api_keys (id, account_id, key_hash, created_at) select 'key' || a, 'acc' || a, 'hash' || a, 0 from generate_series(0, ${ACCOUNTS - 1}) a;
    insert into ${s}.tasks (id, account_id, api_key_id, model, state, request_type, provider, input, price_micros, create_time, run_after, attempts,
                            start_time, complete_time, engine, result_key, poster_key, expires_at)
      select 'f' || lpad(g::text, 10, '0'), 'acc' || (g % ${ACCOUNTS}), 'key' || (g % ${ACCOUNTS}), 'veo-3-1', 'success', 'poll', 'veo',
             '{"prompt":"bench","mode":"fast"}', ${PRICE}, g, g, 1, g, g, 'noop', 'r', 'p', 9e12
      from generate_series(1, ${FINISHED}) g;
    insert into ${s}.tasks (id, account_id, api_key_id, model, state, request_type, provider, input, price_micros, create_time, run_after, attempts)
      select 'p' || lpad(g::text, 10, '0'), 'acc' || (g % ${ACCOUNTS}), 'key' || (g % ${ACCOUNTS}), 'veo-3-1', 'pending', 'poll', 'veo',
             '{"prompt":"bench","mode":"fast"}', ${PRICE}, 1000000000 + g, 1000000000 + g, 0
      from generate_series(1, ${PENDING}) g;
    insert into ${s}.ledger_entries (account_id, kind, amount_micros, task_id, created_at) select account_id, 'hold', price_micros, id, create_time from ${s}.tasks;
    insert into ${s}.ledger_entries (account_id, kind, amount_micros, task_id, created_at)
      select account_id, 'capture', price_micros, id, complete_time from ${s}.tasks where state = 'success';
    insert into ${s}.balances (account_id, credit_micros, held_micros, captured_micros)
      select account_id, 1e15, sum(price_micros) filter (where state = 'pending'), sum(price_micros) filter (where state = 'success')
      from ${s}.tasks group by account_id;
    analyze;`);

  const workers = [0, 1].map((i) => {
    const child = spawn(process.execPath, ['bench/queue-worker.mjs'], {
      env: {
        ...process.env,
        DATABASE_URL: url.toString(),
        PGAPPNAME: `${app}_${i}`,
        BENCH_DURATION: String(DURATION),
        BENCH_WARMUP: String(WARMUP),
        BENCH_QUEUE_LOOPS: String(LOOPS),
      },
      cwd: root,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    children.push(child);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    const waitFor = (test) =>
      new Promise((resolve, reject) => {
        const timer = setInterval(() => {
          const m = test(out);
          if (m) {
            clearInterval(timer);
            resolve(m);
          }
        }, 20);
        child.once('exit', (code) => {
          clearInterval(timer);
          reject(new Error(`queue worker ${i} exited ${code}:\n${out}`));
        });
      });
    return { child, waitFor };
  });
  await Promise.all(workers.map((w) => w.waitFor((o) => o.includes('ready\n'))));
  const backends = (await admin.query('select pid from pg_stat_activity where application_name like $1', [`${app}%`])).rows.map((r) => r.pid);
  const workerPids = workers.map((w) => w.child.pid);
  const loadStart = loadavg();
  const pgBefore = cpuOf(backends);
  const wBefore = cpuOf(workerPids);
  const wal0 = (await admin.query('select pg_current_wal_lsn()::text as l')).rows[0].l;
  const t0 = performance.now();
  for (const w of workers) w.child.stdin.write('go\n');
  const counts = await Promise.all(workers.map((w) => w.waitFor((o) => /^\{.*\}$/m.exec(o)?.[0]).then(JSON.parse)));
  const seconds = (performance.now() - t0) / 1000;
  const wal = Number((await admin.query('select pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::float8 as b', [wal0])).rows[0].b);
  const pgMs = spent(pgBefore, cpuOf(backends));
  const wMs = spent(wBefore, cpuOf(workerPids));
  const settled = counts.reduce((a, c) => a + c.settled, 0);
  const per = (ms) => Math.round((ms * 1000) / Math.max(1, settled));
  // The ledger must still add up: every settled task captured once.
  const check = (
    await admin.query(
      `select (select count(*) from ${s}.ledger_entries where kind = 'capture')::int as captures, (select count(*) from ${s}.tasks where state = 'success')::int as successes,
              (select sum(held_micros)::float8 from ${s}.balances) as held, (select count(*) from ${s}.tasks where state <> 'success')::int as unsettled`,
    )
  ).rows[0];
  const ledgerOk = check.captures === check.successes && check.held === check.unsettled * PRICE;
  console.log(
    JSON.stringify({
      tasksPerSec: Math.round(settled / seconds),
      seconds: Number(seconds.toFixed(1)),
      settled,
      lost: counts.reduce((a, c) => a + c.lost, 0),
      drained: counts.some((c) => c.drained),
      loopsPerProcess: LOOPS,
      workerCpuUsPerTask: per(wMs),
      pgCpuUsPerTask: per(pgMs),
      walBytesPerTask: Math.round(wal / Math.max(1, settled)),
      ledgerOk,
      pending: PENDING,
      finished: FINISHED,
      accounts: ACCOUNTS,
      cpus: cpus().length,
      loadavgAtStart: loadStart.map((x) => Number(x.toFixed(2))),
      loadavgAtEnd: loadavg().map((x) => Number(x.toFixed(2))),
    }),
  );
  if (!ledgerOk) process.exitCode = 1;
} finally {
  for (const c of children) c.kill('SIGTERM');
  await admin.query(`drop schema if exists ${schema} cascade`);
  await admin.end();
}
