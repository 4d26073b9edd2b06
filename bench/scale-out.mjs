// npm run bench:scale: scale-out on PostgreSQL (issue #7). In one run, on a fresh schema that is
// dropped at the end:
//   - the bare node:http baseline (bench/bare-server.mjs);
//   - statusTask and submit throughput with 1 and with 2 `serve --role api` processes (no
//     workers running, so submitted tasks stay queued and no render takes CPU), and submit with a
//     fresh Idempotency-Key per request and of a key with a daily budget on 1 API process;
//   - claims + settles per second by 2 worker processes with a no-op engine
//     (bench/queue-worker.mjs: the product's claimNextTask + settleSuccess, draining those tasks);
//   - for each: CPU µs per request of the API processes (or the workers) and of PostgreSQL, WAL
//     bytes per request, and the ratio to the bare server of the same run;
//   - dispatch latency submit → processing (start_time - create_time) with a `--role worker`
//     process woken by LISTEN/NOTIFY, and with one that only polls (LONGSHOT_PG_NOTIFY=off).
// Prints a markdown table and writes bench/results/scale-<date>.json. Exits non-zero only on
// errors (failed requests, a process that dies), never on slowness.
//
// DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), BENCH_DURATION (s, default 10),
// BENCH_CONNECTIONS (total, default 64), BENCH_DISPATCH_SAMPLES (default 200), BENCH_ACCOUNTS
// (default 8: the submit runs are repeated with the connections spread over that many accounts),
// BENCH_WARMUP (s, default 2), BENCH_QUEUE_LOOPS (claim loops per worker process, default 2),
// BENCH_TAG (writes scale-<date>-<tag>.json), BENCH_NOTE (recorded as `note` in the JSON),
// BENCH_ONLY=submit (only the bare baseline and the submit runs: no render, dispatch, status or queue);
// BENCH_ONLY=status (the bare baseline and the status runs of a rendered task: no dispatch, submit or queue).
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { serviceEnv } from './lib.mjs';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const DISPATCH_SAMPLES = Number(process.env.BENCH_DISPATCH_SAMPLES ?? 200);
const DISPATCH_SPACING_MS = 20;
/** Accounts (one key each) the last two submit runs spread their connections over; 1 skips them. */
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 8);
/** BENCH_TAG=x writes scale-<date>-x.json instead of replacing the day's file. */
const TAG = (process.env.BENCH_TAG ?? '').replace(/[^\w.-]/g, '');
/** BENCH_ONLY=submit measures the submit path alone (a before/after of it takes minutes, not the whole bench). */
const SUBMIT_ONLY = process.env.BENCH_ONLY === 'submit';
/** BENCH_ONLY=status: the bare baseline and the status runs alone (the render they read, no dispatch, submit or queue). */
const STATUS_ONLY = process.env.BENCH_ONLY === 'status';
const BASE_URL = process.env.DATABASE_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/test';
const root = new URL('..', import.meta.url).pathname;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// CPU accounting from /proc (Linux). USER_HZ is 100: 10 ms ticks, fine over a 10 s run.

const TICK_MS = 10;

/** CPU time (user + system, ms) of one process, or null when it is gone or unreadable. */
function cpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS; // utime, stime (fields 14 and 15)
  } catch {
    return null;
  }
}

/** Busy and total CPU time of the whole machine (ms, summed over cores), from /proc/stat. */
function machineMs() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line;
    const busy = user + nice + system + irq + softirq + steal;
    return { busy: busy * TICK_MS, total: (busy + idle + iowait) * TICK_MS };
  } catch {
    return null;
  }
}

/** PostgreSQL backends serving this bench's processes (they connect with PGAPPNAME = appName…). */
async function pgBackendPids(admin, appPrefix) {
  const r = await admin.query('select pid from pg_stat_activity where application_name like $1', [`${appPrefix}%`]);
  // Only a PostgreSQL on this machine: a remote server's pids mean nothing in our /proc.
  return r.rows.map((row) => row.pid).filter((pid) => commOf(pid) === 'postgres');
}

/**
 * WAL position (cluster-wide): the bytes between two readings are what every session wrote, ours
 * and anybody else's on the same server, so WAL bytes per request is an upper bound for ours.
 */
async function walLsn(admin) {
  if (!admin) return null;
  return (await admin.query('select pg_current_wal_lsn()::text as lsn')).rows[0].lsn;
}

async function walBytes(admin, from, to) {
  if (!admin || !from || !to) return null;
  return Number((await admin.query('select pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::float8 as b', [to, from])).rows[0].b);
}

/** Sum of CPU ms of these pids (those readable); null when none could be read. */
function cpuOf(pids) {
  let sum = 0;
  let read = 0;
  const each = new Map();
  for (const pid of pids) {
    const ms = cpuMs(pid);
    if (ms === null) continue;
    each.set(pid, ms);
    sum += ms;
    read++;
  }
  return { sum: read ? sum : null, each };
}

function commOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

/** All postgres server processes on this machine (for "other load": they serve everyone). */
function postgresPids() {
  let entries = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  return entries.filter((d) => /^\d+$/.test(d) && commOf(d) === 'postgres').map(Number);
}

// ---------------------------------------------------------------------------------------------
// Processes.

const children = new Set();

function start(name, cmd, args, env, ready) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    let done = false;
    const onData = (d) => {
      out += d;
      const m = done ? null : ready(out);
      if (m) {
        done = true;
        resolve({ name, child, match: m, output: () => out });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => {
      out += d;
      process.stderr.write(`[${name}] ${d}`);
    });
    child.on('exit', (code, signal) => {
      children.delete(child);
      if (!done) reject(new Error(`${name} (${cmd} ${args.join(' ')}) exited ${code ?? signal} before it was ready:\n${out}`));
      else if (!child.stopping) failures.push(`${name} exited on its own (${code ?? signal}):\n${out.slice(-2000)}`);
    });
  });
}

async function stop(p) {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.stopping = true;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(t);
}

/** Errors that make the run fail (never slowness). */
const failures = [];

function serve(name, role, env) {
  return start(name, process.execPath, ['dist/cli/main.js', 'serve', '--role', role], env, (o) => {
    if (role === 'worker') return o.includes('worker started') && o.includes('Engine:') ? {} : null;
    const url = /listening on (http:\/\/\S+)/.exec(o)?.[1];
    if (!url || !o.includes('Engine:')) return null;
    return { url, key: /\n\s+(lsk_\S+)/.exec(o)?.[1] ?? null };
  });
}

/**
 * How stale a status poll can be after another process's write (docs/performance.md, status reads
 * on PostgreSQL): the admin connection changes the task's completeTime, and from the moment its
 * UPDATE returned (committed) the API process is polled back to back until it answers the new
 * value. That is the NOTIFY's way to that process's row cache plus one poll (~0.1–0.3 ms here).
 */
async function staleness({ admin, schema, url, headers, taskId }, samples = Number(process.env.BENCH_STALENESS_SAMPLES ?? 100)) {
  const lat = [];
  for (let i = 0; i < samples; i++) {
    const row = await admin.query(`update ${schema}.tasks set complete_time = complete_time + 1 where id = $1 returning complete_time`, [taskId]);
    const t0 = performance.now();
    const want = Number(row.rows[0].complete_time);
    for (;;) {
      const res = await fetch(url, { headers });
      const body = await res.json();
      if (Number(body.data.completeTime) === want) break;
      if (performance.now() - t0 > 5000) throw new Error('a status poll still showed the old row 5 s after the commit');
    }
    lat.push(performance.now() - t0);
    await sleep(5);
  }
  lat.sort((a, b) => a - b);
  const at = (p) => Math.round(lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)] * 100) / 100;
  return { samples: lat.length, p50ms: at(50), p99ms: at(99), maxMs: at(100) };
}

/** The commit measured, and whether the working tree differed from it (dist/ is built from the tree). */
function gitState() {
  try {
    const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
    return { commit: git('rev-parse', 'HEAD'), dirty: git('status', '--porcelain', '--untracked-files=no') !== '' };
  } catch {
    return null;
  }
}

/** Runs the longshot CLI on the bench's database; resolves with its stdout. */
function cli(env, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['dist/cli/main.js', ...args], { env: { ...process.env, ...env }, cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`longshot ${args.join(' ')} exited ${code}: ${err}${out}`))));
  });
}

// ---------------------------------------------------------------------------------------------
// Load generation: one or more autocannon instances at once (in this process), one latency
// histogram across all of them (0.1 ms buckets), summed req/s.

const BUCKET_MS = 0.1;
const MAX_BUCKET = 600_000; // 60 s

function pct(hist, count, p) {
  if (count === 0) return null;
  const rank = Math.ceil((p / 100) * count);
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i];
    if (seen >= rank) return Number(((i + 1) * BUCKET_MS).toFixed(1));
  }
  return null;
}

const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);

/**
 * Runs `targets` (autocannon option objects, one instance each, `connections` split evenly) for
 * DURATION s while sampling the CPU of `serverPids` (the servers) and of the PostgreSQL backends
 * named `pgApp…`.
 */
async function load({ targets, serverPids, admin, pgApp }) {
  const hist = new Uint32Array(MAX_BUCKET + 1);
  let count = 0;
  const per = Math.floor(CONNECTIONS / targets.length);
  // The same load for BENCH_WARMUP s first, not counted: JIT, pools and prepared statements warm up.
  if (WARMUP > 0) {
    await Promise.all(
      targets.map(
        (t) =>
          new Promise((resolve, reject) => {
            autocannon({ connections: per, duration: WARMUP, ...t }, (err, res) => (err ? reject(err) : resolve(res)));
          }),
      ),
    );
  }
  const pgBefore = pgApp ? cpuOf(await pgBackendPids(admin, pgApp)) : null;
  const allPgBefore = cpuOf(postgresPids());
  const walBefore = await walLsn(admin);
  const srvBefore = cpuOf(serverPids);
  const selfBefore = process.cpuUsage();
  const machineBefore = machineMs();
  // What the backends serving the servers do, sampled every 100 ms: running a statement, or
  // waiting for a row lock another transaction holds (one account's submits queue on its balance row).
  const waits = { samples: 0, active: 0, lock: 0 };
  let sampling = false;
  const sampler = pgApp
    ? setInterval(() => {
        if (sampling) return;
        sampling = true;
        admin
          .query(
            `select count(*) filter (where state = 'active')::int as active, count(*) filter (where wait_event_type = 'Lock')::int as lock
             from pg_stat_activity where application_name like $1`,
            [`${pgApp}%`],
          )
          .then((r) => {
            waits.samples++;
            waits.active += r.rows[0].active;
            waits.lock += r.rows[0].lock;
          })
          .catch(() => {})
          .finally(() => (sampling = false));
      }, 100)
    : null;
  const runs = targets.map(
    (t) =>
      new Promise((resolve, reject) => {
        const inst = autocannon({ connections: per, duration: DURATION, ...t }, (err, res) => (err ? reject(err) : resolve(res)));
        inst.on('response', (_client, statusCode, _bytes, ms) => {
          if (statusCode < 200 || statusCode > 299) return;
          hist[Math.min(MAX_BUCKET, Math.floor(ms / BUCKET_MS))]++;
          count++;
        });
      }),
  );
  const results = await Promise.all(runs);
  if (sampler) clearInterval(sampler);
  const walAfter = await walLsn(admin);
  const machineAfter = machineMs();
  const self = process.cpuUsage(selfBefore);
  const srvAfter = cpuOf(serverPids);
  const allPgAfter = cpuOf(postgresPids());
  const total = results.reduce((a, r) => a + r.requests.total, 0);
  const ok = results.reduce((a, r) => a + r['2xx'], 0);
  const errors = results.reduce((a, r) => a + r.errors + r.timeouts + (r.non2xx ?? 0), 0);
  return {
    reqPerSec: Math.round(results.reduce((a, r) => a + r.requests.average, 0)),
    p50ms: pct(hist, count, 50),
    p99ms: pct(hist, count, 99),
    requests: total,
    ok,
    errors,
    instances: targets.length,
    connectionsEach: per,
    ...(await costs({ total, admin, pgApp, pgBefore, allPgBefore, allPgAfter, srvBefore, srvAfter, self, machineBefore, machineAfter, walBefore, walAfter })),
    pgBackendsActive: waits.samples ? Number((waits.active / waits.samples).toFixed(1)) : null,
    pgBackendsWaitingOnLock: waits.samples ? Number((waits.lock / waits.samples).toFixed(1)) : null,
  };
}

/**
 * Per-request costs between two readings. PostgreSQL CPU is counted two ways, both from
 * /proc/<pid>/stat of postgres processes on this machine:
 *   - pgCpuUsPerReq: the backends serving this bench's processes (found by application_name in
 *     pg_stat_activity). Exact for the work those sessions do, but it leaves out what they cause in
 *     the server's shared processes (WAL writer, checkpointer, background writer, autovacuum).
 *   - pgAllCpuUsPerReq: every `postgres` process of the machine. That includes those shared
 *     processes, and also the sessions of anybody else using this server (another test run), so
 *     it is an upper bound; on a quiet server the two bracket the true cost.
 * pg_stat_statements would give statement time, not CPU, and is not installed by default.
 */
async function costs({ total, admin, pgApp, pgBefore, allPgBefore, allPgAfter, srvBefore, srvAfter, self, machineBefore, machineAfter, walBefore, walAfter }) {
  let pgMs = null;
  if (pgApp) {
    // Backends present at the end; one that appeared during the run counts from zero.
    const after = cpuOf(await pgBackendPids(admin, pgApp));
    pgMs = 0;
    for (const [pid, ms] of after.each) pgMs += ms - (pgBefore.each.get(pid) ?? 0);
  }
  let allPgMs = 0;
  for (const [pid, ms] of allPgAfter.each) allPgMs += ms - (allPgBefore.each.get(pid) ?? 0);
  const srvMs = srvBefore.sum === null || srvAfter.sum === null ? null : srvAfter.sum - srvBefore.sum;
  const selfMs = (self.user + self.system) / 1000;
  const usPer = (ms) => (ms === null ? null : Number(((ms * 1000) / Math.max(1, total)).toFixed(1)));
  const wal = await walBytes(admin, walBefore, walAfter);
  let otherCores = null;
  let busyCores = null;
  if (machineBefore && machineAfter) {
    const wall = (machineAfter.total - machineBefore.total) / cpus().length;
    const busy = machineAfter.busy - machineBefore.busy;
    busyCores = Number((busy / wall).toFixed(2));
    // Everything that is not this bench: its servers, this process (load generator) and all
    // PostgreSQL processes (our backends, and the checkpointer/WAL writer they cause). Other
    // agents' PostgreSQL use is counted as ours, so this is a lower bound of the other load.
    otherCores = Number((Math.max(0, busy - (srvMs ?? 0) - selfMs - allPgMs) / wall).toFixed(2));
  }
  return {
    cpuUsPerReq: usPer(srvMs),
    pgCpuUsPerReq: usPer(pgMs),
    pgAllCpuUsPerReq: pgApp ? usPer(allPgMs) : null,
    walBytesPerReq: wal === null ? null : Math.round(wal / Math.max(1, total)),
    loadGenCpuUsPerReq: usPer(selfMs),
    machineBusyCores: busyCores,
    otherLoadCores: otherCores,
  };
}

/**
 * Claims and settles per second by 2 worker processes with a no-op engine: bench/queue-worker.mjs
 * runs the product's claimNextTask + settleSuccess from dist/ (there is no no-op engine to start a
 * real `serve --role worker` with). They drain the tasks the submit runs left queued. CPU: the two
 * worker processes (cpuUsPerReq, per claimed-and-settled task), the API processes separately
 * (they receive the task-event NOTIFY of every settle), and PostgreSQL as in `costs`.
 */
async function queueRun({ env, admin, pgApp, apiPids }) {
  const workers = [0, 1].map((i) => {
    const child = spawn(process.execPath, ['bench/queue-worker.mjs'], {
      env: { ...process.env, ...env, PGAPPNAME: `${pgApp}_queue${i}`, BENCH_DURATION: String(DURATION), BENCH_WARMUP: String(WARMUP) },
      cwd: root,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    children.add(child);
    child.on('exit', () => children.delete(child));
    let out = '';
    const waitFor = (test) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = test(out);
          if (m) resolve(m);
        };
        child.stdout.on('data', (d) => {
          out += d;
          check();
        });
        child.once('exit', (code) => reject(new Error(`queue worker ${i} exited ${code}:\n${out}`)));
        check();
      });
    return { child, waitFor, output: () => out };
  });
  await Promise.all(workers.map((w) => w.waitFor((o) => o.includes('ready\n'))));
  const workerPids = workers.map((w) => w.child.pid);
  const pgBefore = cpuOf(await pgBackendPids(admin, `${pgApp}_queue`));
  const allPgBefore = cpuOf(postgresPids());
  const srvBefore = cpuOf(workerPids);
  const apiBefore = cpuOf(apiPids);
  const self = process.cpuUsage();
  const machineBefore = machineMs();
  const walBefore = await walLsn(admin);
  const started = performance.now();
  for (const w of workers) w.child.stdin.write('go\n');
  const counts = await Promise.all(workers.map((w) => w.waitFor((o) => /^\{.*\}$/m.exec(o)?.[0]).then(JSON.parse)));
  const seconds = (performance.now() - started) / 1000;
  const walAfter = await walLsn(admin);
  const machineAfter = machineMs();
  const selfUsed = process.cpuUsage(self);
  const srvAfter = cpuOf(workerPids);
  const apiAfter = cpuOf(apiPids);
  const allPgAfter = cpuOf(postgresPids());
  const settled = counts.reduce((a, c) => a + c.settled, 0);
  const c = await costs({
    total: settled,
    admin,
    pgApp: `${pgApp}_queue`,
    pgBefore,
    allPgBefore,
    allPgAfter,
    srvBefore,
    srvAfter,
    self: selfUsed,
    machineBefore,
    machineAfter,
    walBefore,
    walAfter,
  });
  for (const w of workers) {
    w.child.stdin.end();
    w.child.kill('SIGTERM');
  }
  const apiMs = apiBefore.sum === null || apiAfter.sum === null ? null : apiAfter.sum - apiBefore.sum;
  return {
    reqPerSec: Math.round(settled / seconds),
    seconds: Number(seconds.toFixed(1)),
    claimed: counts.reduce((a, x) => a + x.claimed, 0),
    settled,
    lost: counts.reduce((a, x) => a + x.lost, 0),
    drained: counts.some((x) => x.drained),
    loopsPerProcess: Number(process.env.BENCH_QUEUE_LOOPS ?? 2),
    ...c,
    apiCpuUsPerReq: apiMs === null ? null : Number(((apiMs * 1000) / Math.max(1, settled)).toFixed(1)),
  };
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const date = new Date().toISOString();
  const schema = `bench_scale_${randomBytes(4).toString('hex')}`;
  const pgApp = `lsbench_${schema}`;
  const admin = new pg.Client({ connectionString: BASE_URL });
  await admin.connect();
  const pgVersion = (await admin.query('show server_version')).rows[0].server_version;
  await admin.query(`create schema ${schema}`);
  currentSchema = schema;
  const dbUrl = new URL(BASE_URL);
  dbUrl.searchParams.set('options', `-c search_path=${schema}`);
  const dataDir = await mkdtemp(join(tmpdir(), 'longshot-bench-scale-'));
  const env = serviceEnv(dataDir, { DATABASE_URL: dbUrl.toString(), LONGSHOT_SHUTDOWN_GRACE_SECONDS: '2' });
  // REDIS_URL / S3 of the caller's shell would change what is measured: this bench is PostgreSQL only.
  for (const k of Object.keys(process.env)) if (k === 'REDIS_URL' || k === 'LONGSHOT_ROLE' || k.startsWith('LONGSHOT_S3_')) env[k] = '';

  const results = { bare: null, status: {}, submit: {}, queue: null, dispatch: {} };
  let bare, api1, api2, worker;
  const loadStart = loadavg();
  try {
    // The first API process migrates the schema and creates the default account (prints its key).
    api1 = await serve('api1', 'api', { ...env, PGAPPNAME: `${pgApp}_api1` });
    const key = api1.match.key;
    if (!key) throw new Error(`the first API process printed no key:\n${api1.output()}`);
    api2 = await serve('api2', 'api', { ...env, PGAPPNAME: `${pgApp}_api2` });
    const urls = [api1.match.url, api2.match.url];
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const call = async (url, method, path, body) => {
      const res = await fetch(url + path, { method, headers, body: body && JSON.stringify(body) });
      const json = await res.json().catch(() => null);
      if (res.status !== 200 || json?.code !== 200) throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(json)}`);
      return json.data;
    };
    const workerEnv = (extra) => ({ ...env, LONGSHOT_PUBLIC_URL: urls[0], LONGSHOT_WORKERS: '2', PGAPPNAME: `${pgApp}_worker`, ...extra });

    let taskId = null;
    if (!SUBMIT_ONLY) {
      // A finished task to read (its status carries a freshly signed URL, as in npm run bench),
      // rendered by a worker woken through NOTIFY; that worker then measures dispatch.
      worker = await serve('worker-notify', 'worker', workerEnv({}));
      ({ taskId } = await call(urls[0], 'POST', '/api/v1/generateTask/veo-3-1', { input: { prompt: 'bench', mode: 'fast', seed: 1 } }));
      const renderDeadline = Date.now() + 300_000;
      for (;;) {
        const s = await call(urls[1], 'GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`);
        if (s.state === 'success') break;
        if (s.state === 'failed') throw new Error(`bench task failed: ${s.failMsg}`);
        if (Date.now() > renderDeadline) throw new Error('the bench task did not finish within 300 s');
        await sleep(200);
      }

      // Dispatch: tasks that fail at once (an image on a private address), submitted DISPATCH_SPACING_MS
      // apart through both API processes, so the worker's loops are idle at every submit.
      const dispatch = async (label) => {
        const ids = [];
        for (let i = 0; i < DISPATCH_SAMPLES; i++) {
          const d = await call(urls[i % 2], 'POST', '/api/v1/generateTask/veo-3-1', {
            input: { prompt: 'dispatch', mode: 'fast', generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO', image_urls: ['http://127.0.0.1:9/x.png'] },
          });
          ids.push(d.taskId);
          await sleep(DISPATCH_SPACING_MS);
        }
        const deadline = Date.now() + 60_000;
        let rows;
        for (;;) {
          rows = (await admin.query(`select state, start_time - create_time as d from ${schema}.tasks where id = any($1)`, [ids])).rows;
          if (rows.every((r) => r.state === 'success' || r.state === 'failed')) break;
          if (Date.now() > deadline) {
            failures.push(
              `dispatch (${label}): ${rows.filter((r) => r.state !== 'success' && r.state !== 'failed').length} of ${ids.length} tasks not final after 60 s`,
            );
            break;
          }
          await sleep(250);
        }
        const lat = rows
          .map((r) => r.d)
          .filter((d) => d !== null)
          .map(Number)
          .sort((a, b) => a - b);
        const at = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)] : null);
        return {
          samples: lat.length,
          submitted: ids.length,
          p50ms: at(50),
          p99ms: at(99),
          maxMs: lat.at(-1) ?? null,
          meanMs: lat.length ? Math.round(lat.reduce((a, b) => a + b, 0) / lat.length) : null,
        };
      };
      if (!STATUS_ONLY) {
        results.dispatch.notify = await dispatch('LISTEN/NOTIFY');
        await stop(worker);
        worker = await serve('worker-poll', 'worker', workerEnv({ LONGSHOT_PG_NOTIFY: 'off' }));
        await sleep(1500); // let its start-up claim pass: every loop is idle, waiting on its poll timer
        results.dispatch.poll = await dispatch('polling only');
      }
      await stop(worker);
      worker = null;
    }

    // Throughput: no workers from here on.
    bare = await start('bare', process.execPath, ['bench/bare-server.mjs'], {}, (o) => /LISTENING (\d+)/.exec(o)?.[1]);
    results.bare = await load({ targets: [{ url: `http://127.0.0.1:${bare.match}/` }], serverPids: [bare.child.pid] });
    await stop(bare);
    bare = null;

    const statusPath = `/api/v1/statusTask/veo-3-1?taskId=${taskId}`;
    const apiPids = [api1.child.pid, api2.child.pid];
    if (!SUBMIT_ONLY) {
      results.status.api1 = await load({ targets: [{ url: urls[0] + statusPath, headers }], serverPids: apiPids, admin, pgApp });
      results.status.api2 = await load({ targets: urls.map((u) => ({ url: u + statusPath, headers })), serverPids: apiPids, admin, pgApp });
      results.staleness = await staleness({ admin, schema, url: urls[1] + statusPath, headers, taskId });
    }

    if (!STATUS_ONLY) {
      const submit = { method: 'POST', headers, body: JSON.stringify({ input: { prompt: 'bench submit', mode: 'fast' } }) };
      const submitPath = '/api/v1/generateTask/veo-3-1';
      results.submit.api1 = await load({ targets: [{ url: urls[0] + submitPath, ...submit }], serverPids: apiPids, admin, pgApp });
      results.submit.api2 = await load({ targets: urls.map((u) => ({ url: u + submitPath, ...submit })), serverPids: apiPids, admin, pgApp });
      // The same with a fresh Idempotency-Key on every request (the set-based batch upserts the
      // keys' records with the tasks).
      const keyed = { ...submit, requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'idempotency-key': randomUUID() } }) }] };
      results.submit.api1Idempotent = await load({ targets: [{ url: urls[0] + submitPath, ...keyed }], serverPids: apiPids, admin, pgApp });
      // A key with a daily budget far above what the run spends: each submit is also charged to
      // the key's spend row for the day (the batch locks it and raises it once per batch).
      await cli(env, ['accounts', 'create', 'bench-budget', '--credit', '100000000']);
      const unlimited = ['--submit-rpm', '0', '--status-rpm', '0', '--max-unfinished', '0'];
      const budgetKey = (
        await cli(env, ['keys', 'create', '--account', 'bench-budget', ...unlimited, '--budget-usd', '10000000', '--budget-period', 'day'])
      ).trim();
      const budgeted = { ...submit, headers: { ...headers, authorization: `Bearer ${budgetKey}` } };
      results.submit.api1Budget = await load({ targets: [{ url: urls[0] + submitPath, ...budgeted }], serverPids: apiPids, admin, pgApp });
      // One account's submits queue on its balance row (the hold is an UPDATE of it, held until
      // commit), whatever the number of API processes. The same with the connections spread over
      // BENCH_ACCOUNTS accounts, one key each, shows what more processes do when that row is not
      // the limit.
      if (ACCOUNTS > 1) {
        const keys = [];
        for (let i = 0; i < ACCOUNTS; i++) {
          await cli(env, ['accounts', 'create', `bench${i}`, '--credit', '100000000']);
          keys.push((await cli(env, ['keys', 'create', '--account', `bench${i}`, '--submit-rpm', '0', '--status-rpm', '0', '--max-unfinished', '0'])).trim());
        }
        let next = 0;
        const spread = { ...submit, setupClient: (client) => client.setHeaders({ ...headers, authorization: `Bearer ${keys[next++ % keys.length]}` }) };
        results.submit.api1Accounts = await load({ targets: [{ url: urls[0] + submitPath, ...spread }], serverPids: apiPids, admin, pgApp });
        results.submit.api2Accounts = await load({ targets: urls.map((u) => ({ url: u + submitPath, ...spread })), serverPids: apiPids, admin, pgApp });
      }
      const queued = (await admin.query(`select count(*)::int as n from ${schema}.tasks where state = 'pending'`)).rows[0].n;
      results.submit.queuedAtEnd = queued;
      // The queue: two no-op workers drain what the submits left (see queueRun).
      if (!SUBMIT_ONLY) results.queue = await queueRun({ env, admin, pgApp, apiPids });
      if (results.queue?.drained) console.warn(`queue: the ${queued} queued tasks ran out before the end; the claims/s figure is a lower bound`);
    }

    for (const [name, r] of [
      ['bare', results.bare],
      ...Object.entries(results.status).map(([k, v]) => [`status ${k}`, v]),
      ...Object.entries(results.submit)
        .filter(([, v]) => typeof v === 'object')
        .map(([k, v]) => [`submit ${k}`, v]),
    ]) {
      if (r.errors > 0) failures.push(`${name}: ${r.errors} failed requests of ${r.requests}`);
    }

    // ------------------------------------------------------------------------------------------
    const b = results.bare;
    const ratio = (r) => (b.reqPerSec ? (r.reqPerSec / b.reqPerSec).toFixed(2) : '—');
    const cpuRatio = (r) => (b.cpuUsPerReq && r.cpuUsPerReq ? (b.cpuUsPerReq / r.cpuUsPerReq).toFixed(2) : '—');
    const n = (v) => (v === null || v === undefined ? '—' : typeof v === 'number' ? v.toLocaleString('en') : v);
    const rows = [
      ['bare node:http JSON', b, true],
      ['statusTask, 1 API process', results.status.api1],
      ['statusTask, 2 API processes', results.status.api2],
      ['submit, 1 API process', results.submit.api1],
      ['submit, 2 API processes', results.submit.api2],
      ['submit with an Idempotency-Key each, 1 API process', results.submit.api1Idempotent],
      ['submit of a key with a daily budget, 1 API process', results.submit.api1Budget],
      ...(results.submit.api1Accounts
        ? [
            [`submit, 1 API process, ${ACCOUNTS} accounts`, results.submit.api1Accounts],
            [`submit, 2 API processes, ${ACCOUNTS} accounts`, results.submit.api2Accounts],
          ]
        : []),
      ['claim + settle, 2 no-op worker processes (CPU: the workers)', results.queue],
    ].filter(([, r]) => r); // BENCH_ONLY=submit leaves the other figures out
    const lines = [
      '| figure | req/s | p50 ms | p99 ms | CPU µs/req (API) | CPU µs/req (PostgreSQL backends) | CPU µs/req (all postgres processes) | WAL bytes/req | backends active / on a lock | other load (cores) | ratio to bare (req/s) | ratio to bare (CPU) |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|',
      ...rows.map(
        ([label, r, isBare]) =>
          `| ${label} | ${n(r.reqPerSec)} | ${n(r.p50ms)} | ${n(r.p99ms)} | ${n(r.cpuUsPerReq)} | ${isBare ? '—' : n(r.pgCpuUsPerReq)} | ${isBare ? '—' : n(r.pgAllCpuUsPerReq)} | ${isBare ? '—' : n(r.walBytesPerReq)} | ${isBare || r.pgBackendsActive === undefined ? '—' : `${n(r.pgBackendsActive)} / ${n(r.pgBackendsWaitingOnLock)}`} | ${n(r.otherLoadCores)} | ${isBare ? '1.00' : ratio(r)} | ${isBare ? '1.00' : cpuRatio(r)} |`,
      ),
      ...[
        ['submit → processing, worker woken by LISTEN/NOTIFY', results.dispatch.notify],
        ['submit → processing, worker polling only (LONGSHOT_PG_NOTIFY=off)', results.dispatch.poll],
        ["another connection's commit → seen by a status poll of API process 2 (its row cache's staleness)", results.staleness],
      ]
        .filter(([, d]) => d)
        .map(([label, d]) => `| ${label} (${d.samples} samples) | — | ${n(d.p50ms)} | ${n(d.p99ms)} | — | — | — | — | — | — | — | — |`),
    ];
    const report = {
      date,
      // The command as run: the BENCH_* settings of the caller's shell, then the script.
      command: [
        ...Object.keys(process.env)
          .filter((k) => (k.startsWith('BENCH_') && k !== 'BENCH_NOTE') || k === 'LONGSHOT_STATUS_CACHE')
          .sort()
          .map((k) => `${k}=${process.env[k]}`),
        'npm run bench:scale',
      ].join(' '),
      env: {
        BENCH_DURATION: DURATION,
        BENCH_WARMUP: WARMUP,
        BENCH_CONNECTIONS: CONNECTIONS,
        BENCH_DISPATCH_SAMPLES: DISPATCH_SAMPLES,
        BENCH_ACCOUNTS: ACCOUNTS,
        BENCH_QUEUE_LOOPS: Number(process.env.BENCH_QUEUE_LOOPS ?? 2),
      },
      machine: {
        cpus: cpus().length,
        model: cpus()[0]?.model,
        memoryGb: Math.round(totalmem() / 2 ** 30),
        node: process.version,
        postgres: pgVersion,
        loadavgAtStart: loadStart.map((x) => Number(x.toFixed(2))),
        loadavgAtEnd: loadavg().map((x) => Number(x.toFixed(2))),
      },
      git: gitState(),
      // BENCH_NOTE: how this run differs from a plain `npm run bench:scale` in the tree (e.g. where dist/ was built).
      ...(process.env.BENCH_NOTE ? { note: process.env.BENCH_NOTE } : {}),
      setup: {
        database: 'PostgreSQL, a fresh schema dropped at the end; API and bench on the same machine',
        api: '`longshot serve --role api` × 1 or 2 (ports differ, same schema), limits off for the keys; no workers during the throughput runs',
        accounts: `statusTask and submit use the default account's key; the "${ACCOUNTS} accounts" submit runs spread the connections over that many accounts, one key each`,
        loadGenerator: 'autocannon in the bench process; with 2 API processes two instances at once, half the connections each',
        dispatchWorker:
          '`longshot serve --role worker`, LONGSHOT_WORKERS=2, idle at each submit; submits spaced 20 ms, alternating between the two API processes',
        backends:
          'mean number of PostgreSQL backends serving the API processes that are running a statement / waiting on a lock, sampled every 100 ms (10 per API process at most: the pool size)',
        cpu: 'CPU µs/req from /proc: API = both API processes (an idle one costs ~0); PostgreSQL backends = the backends serving them (by application_name); all postgres processes = every postgres process of the machine, shared ones (WAL writer, checkpointer) and other users of the server included (an upper bound); other load = machine busy time minus the bench, its servers and every postgres process, in cores (a lower bound)',
        wal: 'WAL bytes/req = pg_wal_lsn_diff of pg_current_wal_lsn() before and after the measured seconds, divided by the requests: cluster-wide, so an upper bound when others write to the server',
        queue:
          'claim + settle: 2 processes running bench/queue-worker.mjs (the product has no no-op engine): claimNextTask + settleSuccess from dist/, BENCH_QUEUE_LOOPS loops each (default 2, as LONGSHOT_WORKERS), draining the tasks the submit runs left queued; its CPU µs/req is the 2 worker processes per settled task, apiCpuUsPerReq the API processes (task-event NOTIFY of every settle)',
      },
      results,
      table: lines.join('\n'),
      failures,
    };
    console.log(`\n${lines.join('\n')}\n`);
    console.log(
      `load average at start ${report.machine.loadavgAtStart.join(' ')}, at end ${report.machine.loadavgAtEnd.join(' ')}; ${results.submit.queuedAtEnd ?? 0} submitted tasks were still queued at the end (no workers)`,
    );
    await mkdir(join(root, 'bench/results'), { recursive: true });
    const file = join(root, 'bench/results', `scale-${date.slice(0, 10)}${TAG ? `-${TAG}` : ''}.json`);
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`written ${file}`);
  } finally {
    await Promise.all([bare, worker, api1, api2].map((p) => stop(p).catch(() => {})));
    await admin.query(`drop schema if exists ${schema} cascade`).catch((err) => failures.push(`dropping schema ${schema}: ${err.message}`));
    currentSchema = null;
    await admin.end().catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
  }
  if (failures.length) {
    console.error(`\nerrors:\n- ${failures.join('\n- ')}`);
    process.exitCode = 1;
  }
}

let currentSchema = null;
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, async () => {
    interrupted = true;
    for (const c of children) c.kill('SIGTERM');
    console.error(`\n${sig}: stopping the servers and dropping schema ${currentSchema ?? '(none yet)'}`);
    await sleep(3000);
    for (const c of children) c.kill('SIGKILL');
    if (currentSchema) {
      const c = new pg.Client({ connectionString: BASE_URL });
      await c
        .connect()
        .then(() => c.query(`drop schema if exists ${currentSchema} cascade`))
        .catch((err) => console.error(`could not drop ${currentSchema}: ${err.message}`))
        .finally(() => c.end().catch(() => {}));
    }
    process.exit(130);
  });
}

main().catch((err) => {
  if (interrupted) return; // the signal handler cleans up and exits
  console.error(err);
  process.exit(1);
});
