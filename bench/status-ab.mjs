// Compares the CPU cost of a status read between builds, interleaved in one run, each against a
// bare node:http server measured just before: the way to measure an optimisation of the hot path
// on a machine whose speed drifts within minutes.
//
//   node bench/status-ab.mjs dist-before dist        # two compiled trees (e.g. `git stash; npm run build; cp -r dist dist-before`)
//   node bench/status-ab.mjs dist dist:--single-threaded-gc   # node flags for one variant after a colon
//
// Each tree's service is started from <tree>/cli/main.js on a fresh SQLite data dir (limits off)
// and pinned to CPU 0 with the bare server; autocannon (this process) runs on CPU 1
// (BENCH_PIN=off: nothing pinned, as in npm run bench). Per round it prints req/s, server CPU µs
// per request and both ratios to bare; then the medians.
// BENCH_DURATION (s, default 5), BENCH_WARMUP (default 2), BENCH_ROUNDS (default 3), BENCH_CONNECTIONS (64).
// BENCH_STATE=pending polls a task that stays pending (no workers, two tasks ahead of it: its
// queuePosition is a count per read) instead of a finished one.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finishedTask, measuredRaw, start, startService, stop } from './lib.mjs';

const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const trees = process.argv.slice(2);
if (trees.length === 0) {
  console.error('usage: node bench/status-ab.mjs <dist tree> [<dist tree> ...]');
  process.exit(2);
}
const PIN = process.env.BENCH_PIN !== 'off';
const PENDING = process.env.BENCH_STATE === 'pending';

/** The third of three submitted tasks, which no worker takes. */
async function pendingTask(url, headers) {
  let taskId;
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${url}/api/v1/generateTask/veo-3-1`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ input: { prompt: 'bench', mode: 'fast', seed: i } }),
    });
    taskId = (await res.json()).data.taskId;
  }
  return taskId;
}
const pin = (cpu, pid, all = false) => PIN && execFileSync('taskset', [all ? '-apc' : '-pc', String(cpu), String(pid)], { stdio: 'ignore' });
pin(1, process.pid);

const load = (opts) => ({ connections: CONNECTIONS, duration: DURATION, ...opts });
async function measure(pid, opts) {
  const [r] = await measuredRaw(pid, load(opts), WARMUP);
  if (r.errors) throw new Error(`${r.errors} failed requests to ${opts.url}`);
  return r;
}

async function serviceFrom(variant) {
  const [tree, ...flags] = variant.split(':');
  const dataDir = await mkdtemp(join(tmpdir(), 'longshot-ab-'));
  const svc = await startService(dataDir, [], PENDING ? { LONGSHOT_WORKERS: '0' } : {}, {
    entry: join(tree, 'cli/main.js'),
    nodeArgs: flags.join(':').split(' ').filter(Boolean),
  });
  pin(0, svc.pid, true);
  const headers = { authorization: `Bearer ${svc.key}`, 'content-type': 'application/json' };
  const taskId = PENDING ? await pendingTask(svc.url, headers) : await finishedTask(svc.url, headers);
  return { tree: variant, dataDir, child: svc.child, opts: { url: `${svc.url}/api/v1/statusTask/veo-3-1?taskId=${taskId}`, headers }, rounds: [] };
}

const bare = await start('node', ['bench/bare-server.mjs'], {}, (o) => /LISTENING (\d+)/.exec(o)?.[1]);
pin(0, bare.child.pid);
const services = [];
try {
  for (const tree of trees) services.push(await serviceFrom(tree));
  for (let i = 0; i < ROUNDS; i++) {
    const b = await measure(bare.child.pid, { url: `http://127.0.0.1:${bare.match}/` });
    const cells = [`bare ${b.reqPerSec} req/s ${b.cpuUsPerReq.toFixed(1)} µs`];
    for (const s of services) {
      const r = await measure(s.child.pid, s.opts);
      s.rounds.push({ ...r, ratio: r.reqPerSec / b.reqPerSec, cpuRatio: b.cpuUsPerReq / r.cpuUsPerReq });
      cells.push(
        `${s.tree} ${r.reqPerSec} req/s ${r.cpuUsPerReq.toFixed(1)} µs p99 ${r.p99ms} ms ×${(r.reqPerSec / b.reqPerSec).toFixed(2)} (CPU ×${(b.cpuUsPerReq / r.cpuUsPerReq).toFixed(2)})`,
      );
    }
    console.log(cells.join(' | '));
  }
  const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const s of services) {
    console.log(
      `${s.tree}: median ${median(s.rounds.map((r) => r.cpuUsPerReq)).toFixed(1)} µs/req, ratio to bare ×${median(s.rounds.map((r) => r.ratio)).toFixed(2)} (req/s), ×${median(s.rounds.map((r) => r.cpuRatio)).toFixed(2)} (CPU)`,
    );
  }
} finally {
  for (const s of services) {
    await stop(s.child);
    await rm(s.dataDir, { recursive: true, force: true });
  }
  await stop(bare.child);
}
