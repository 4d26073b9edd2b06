// npm run bench: throughput of statusTask against a bare node:http server measured in the same
// run, and submit → processing dispatch latency. Prints a table, writes bench/results/*.json.
// Exits non-zero only on errors, never on slowness.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
// Stored tasks besides the one read: the status read must cost the same at 10k and at 1M rows.
const STORED = (process.env.BENCH_STORED ?? '10000,1000000').split(',').map(Number);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const root = new URL('..', import.meta.url).pathname;

function start(cmd, args, env, ready) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = ready(out);
      if (m) resolve({ child, match: m });
    });
    child.on('exit', (code) => reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${out}`)));
  });
}

function cannon(opts) {
  return new Promise((resolve, reject) => {
    autocannon({ connections: CONNECTIONS, duration: DURATION, ...opts }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

// CPU time (user + system, ms) a process has used, from /proc: a cost per request that stays
// meaningful when other work on the machine changes the throughput figures.
import { readFileSync } from 'node:fs';
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

async function measured(pid, opts) {
  const before = cpuMs(pid);
  const r = await cannon(opts);
  const used = cpuMs(pid) - before;
  return { ...summary(r), cpuUsPerReq: Number(((used * 1000) / Math.max(1, r.requests.total)).toFixed(1)) };
}

function rssMb(pid) {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
  return Math.round(kb / 1024);
}

/** Adds `n` finished tasks of other accounts' shape straight into the database, in one transaction. */
function seedTasks(file, n) {
  if (n <= 0) return;
  const db = new Database(file);
  db.pragma('busy_timeout = 30000');
  const account = db.prepare('select id from accounts limit 1').get().id;
  const insert = db.prepare(`insert into tasks (id, account_id, api_key_id, model, state, request_type, provider, input,
    chain_depth, price_micros, create_time, complete_time, attempts, run_after, result_key, poster_key, expires_at)
    values (?, ?, 'seed', 'veo-3-1', 'success', 'async', 'auto', '{}', 0, 0, ?, ?, 1, ?, ?, ?, ?)`);
  const t0 = Date.now() - 86_400_000;
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const time = t0 + i;
      const id = time.toString(16).padStart(12, '0') + '7' + Math.random().toString(16).slice(2, 21).padEnd(19, '0');
      insert.run(id, account, time, time + 1000, time, `results/${id}.mp4`, `results/${id}.jpg`, time + 7 * 86_400_000);
    }
  })();
  db.close();
}

const summary = (r) => ({
  reqPerSec: Math.round(r.requests.average),
  p50ms: r.latency.p50,
  p99ms: r.latency.p99,
  errors: r.errors + r.timeouts + (r.non2xx ?? 0),
});

async function main() {
  const dataDir = await mkdtemp(join(tmpdir(), 'longshot-bench-'));
  const bare = await start('node', ['bench/bare-server.mjs'], {}, (o) => /LISTENING (\d+)/.exec(o)?.[1]);
  const svc = await start(
    'node',
    ['dist/cli/main.js', 'serve'],
    { LONGSHOT_DATA_DIR: dataDir, LONGSHOT_PORT: '0', LONGSHOT_LOG_LEVEL: 'warn', LONGSHOT_INITIAL_CREDIT_USD: '100000', LONGSHOT_SUBMIT_RPM: '0', LONGSHOT_STATUS_RPM: '0', LONGSHOT_MAX_UNFINISHED: '0' },
    (o) => {
      const url = /listening on (http:\/\/\S+)/.exec(o)?.[1];
      const key = /\n\s+(lsk_\S+)/.exec(o)?.[1];
      return url && key ? { url, key } : null;
    },
  );
  const { url, key } = svc.match;
  const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const api = async (method, path, body) => {
    const res = await fetch(url + path, { method, headers: auth, body: body && JSON.stringify(body) });
    return res.json();
  };
  try {
    // One finished task to read: the status of a success carries a freshly signed URL.
    const { taskId } = (await api('POST', '/api/v1/generateTask/veo-3-1', { input: { prompt: 'bench', mode: 'fast', seed: 1 } })).data;
    for (;;) {
      const s = (await api('GET', `/api/v1/statusTask/veo-3-1?taskId=${taskId}`)).data;
      if (s.state === 'success') break;
      if (s.state === 'failed') throw new Error(`bench task failed: ${s.failMsg}`);
      await new Promise((r) => setTimeout(r, 200));
    }

    const results = {};
    results.idleRssMb = rssMb(svc.child.pid);
    results.bare = await measured(bare.child.pid, { url: `http://127.0.0.1:${bare.match}/` });
    results.statusByStored = {};
    let stored = 1;
    for (const target of STORED) {
      seedTasks(join(dataDir, 'longshot.db'), target - stored);
      stored = target;
      results.statusByStored[target] = await measured(svc.child.pid, { url: `${url}/api/v1/statusTask/veo-3-1?taskId=${taskId}`, headers: auth });
    }
    results.status = results.statusByStored[STORED[0]];

    // Dispatch latency: tasks that fail at once (an image on a private address) so workers are
    // idle for every submit; start_time - create_time is submit → processing.
    const dispatchIds = [];
    for (let i = 0; i < 200; i++) {
      const r = await api('POST', '/api/v1/generateTask/veo-3-1', {
        input: { prompt: 'dispatch', mode: 'fast', generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO', image_urls: ['http://127.0.0.1:9/x.png'] },
      });
      dispatchIds.push(r.data.taskId);
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 1000));
    const db = new Database(join(dataDir, 'longshot.db'), { readonly: true });
    const lat = dispatchIds
      .map((id) => db.prepare('select start_time - create_time as d from tasks where id = ?').get(id)?.d)
      .filter((d) => d !== null && d !== undefined)
      .sort((a, b) => a - b);
    db.close();
    const pct = (p) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))];
    results.dispatch = { samples: lat.length, p50ms: pct(50), p99ms: pct(99) };

    const ratio = results.status.reqPerSec / results.bare.reqPerSec;
    const report = {
      date: new Date().toISOString(),
      command: 'npm run bench',
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
      connections: CONNECTIONS,
      durationSec: DURATION,
      results,
      statusRatio: Number(ratio.toFixed(3)),
    };
    report.statusByStored = Object.fromEntries(
      Object.entries(results.statusByStored).map(([n, r]) => [n, { ...r, ratio: Number((r.reqPerSec / results.bare.reqPerSec).toFixed(3)) }]),
    );
    const cpuRatio = results.bare.cpuUsPerReq / results.status.cpuUsPerReq;
    report.statusCpuRatio = Number(cpuRatio.toFixed(3));
    console.log('\n| figure | req/s | p50 ms | p99 ms | CPU µs/req | ratio to bare (req/s) | ratio to bare (CPU) |');
    console.log('|---|---|---|---|---|---|---|');
    console.log(`| bare node:http JSON | ${results.bare.reqPerSec} | ${results.bare.p50ms} | ${results.bare.p99ms} | ${results.bare.cpuUsPerReq} | 1.00 | 1.00 |`);
    for (const [n, r] of Object.entries(results.statusByStored)) {
      console.log(`| statusTask (SQLite, auth), ${Number(n).toLocaleString('en')} tasks stored | ${r.reqPerSec} | ${r.p50ms} | ${r.p99ms} | ${r.cpuUsPerReq} | ${(r.reqPerSec / results.bare.reqPerSec).toFixed(2)} | ${(results.bare.cpuUsPerReq / r.cpuUsPerReq).toFixed(2)} |`);
    }
    console.log(`| submit → processing (${lat.length} samples) | — | ${results.dispatch.p50ms} | ${results.dispatch.p99ms} | — | — | — |`);
    console.log(`\nidle RSS of the service after start: ${results.idleRssMb} MB`);
    await mkdir(join(root, 'bench/results'), { recursive: true });
    const file = join(root, 'bench/results', `status-${report.date.slice(0, 10)}.json`);
    await writeFile(file, JSON.stringify(report, null, 2) + '\n');
    console.log(`\nwritten ${file}`);
    if (results.status.errors > 0 || results.bare.errors > 0) throw new Error('requests failed during the bench');
  } finally {
    bare.child.kill('SIGTERM');
    svc.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
