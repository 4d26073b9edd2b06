// Helpers shared by the benches: start the service as a separate process, give it a finished task
// to read, drive a server with autocannon and read its CPU time and RSS from /proc, percentiles.

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import autocannon from 'autocannon';

export const root = new URL('..', import.meta.url).pathname;

/** Spawns a process and resolves once `ready(stdout so far)` returns something truthy. */
export function start(cmd, args, env, ready) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let done = false;
    child.stdout.on('data', (d) => {
      if (done) return;
      out += d;
      const m = ready(out);
      if (m) {
        done = true;
        resolve({ child, match: m });
      }
    });
    child.on('exit', (code, signal) => {
      if (!done) reject(new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}: ${out}`));
    });
  });
}

/** The bench's service environment: a fresh data dir, port 0, limits off for the first key. */
export function serviceEnv(dataDir, extra = {}) {
  return {
    LONGSHOT_DATA_DIR: dataDir,
    LONGSHOT_PORT: '0',
    LONGSHOT_LOG_LEVEL: 'warn',
    LONGSHOT_INITIAL_CREDIT_USD: '100000000',
    LONGSHOT_SUBMIT_RPM: '0',
    LONGSHOT_STATUS_RPM: '0',
    LONGSHOT_MAX_UNFINISHED: '0',
    ...extra,
  };
}

/**
 * `longshot serve [args]`; resolves with the child, its URL and the first API key it prints (only
 * a first start on an empty database prints one: pass `expectKey: false` for a second process).
 * BENCH_SERVICE_NODE_ARGS adds node flags to the service only, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`
 * (`nodeArgs` replaces them); `entry` is the CLI to run, e.g. another build's `dist-before/cli/main.js`.
 */
export async function startService(dataDir, args = [], extraEnv = {}, { expectKey = true, entry = 'dist/cli/main.js', nodeArgs } = {}) {
  const flags = nodeArgs ?? (process.env.BENCH_SERVICE_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const svc = await start('node', [...flags, entry, 'serve', ...args], serviceEnv(dataDir, extraEnv), (o) => {
    const url = /listening on (http:\/\/\S+)/.exec(o)?.[1];
    const key = /\n\s+(lsk_\S+)/.exec(o)?.[1];
    return url && (key || !expectKey) ? { url, key } : null;
  });
  return { child: svc.child, pid: svc.child.pid, url: svc.match.url, key: svc.match.key };
}

/** Submits one task (fast, seed 1) and waits until it succeeded: a status read of it carries signed URLs. */
export async function finishedTask(url, headers) {
  const submit = await fetch(`${url}/api/v1/generateTask/veo-3-1`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ input: { prompt: 'bench', mode: 'fast', seed: 1 } }),
  });
  const { taskId } = (await submit.json()).data;
  for (;;) {
    const s = (await (await fetch(`${url}/api/v1/statusTask/veo-3-1?taskId=${taskId}`, { headers })).json()).data;
    if (s.state === 'success') return taskId;
    if (s.state === 'failed') throw new Error(`the bench task failed: ${s.failMsg}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** autocannon with `opts` (connections and duration included), as a promise. */
export const cannon = (opts) => new Promise((resolve, reject) => autocannon(opts, (err, res) => (err ? reject(err) : resolve(res))));

/**
 * `warmup` s of the load (not counted), then the load against `pid`'s server: autocannon's summary
 * with the server's CPU µs per request, and autocannon's raw result. `afterWarmup` runs between.
 */
export async function measuredRaw(pid, opts, warmup, afterWarmup = () => {}) {
  if (warmup > 0) await cannon({ ...opts, duration: warmup });
  await afterWarmup();
  const before = cpuMs(pid);
  const r = await cannon(opts);
  const used = cpuMs(pid) - before;
  const summary = { reqPerSec: Math.round(r.requests.average), p50ms: r.latency.p50, p99ms: r.latency.p99, errors: r.errors + r.timeouts + (r.non2xx ?? 0) };
  return [{ ...summary, cpuUsPerReq: Number(((used * 1000) / Math.max(1, r.requests.total)).toFixed(1)) }, r];
}

/** Sends SIGTERM and waits (up to `ms`) for the process to exit. */
export function stop(child, ms = 15_000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** CPU time (user + system, ms) a process has used, from /proc. */
export function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

function statusKb(pid, field) {
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

/** Resident set size (VmRSS) in MB. */
export const rssMb = (pid) => Math.round(statusKb(pid, 'VmRSS') / 1024);
/** Peak resident set size (VmHWM) in MB. */
export const peakRssMb = (pid) => Math.round(statusKb(pid, 'VmHWM') / 1024);

/** Open sockets of a process (its fds that are sockets): what the server holds. */
export function socketCount(pid) {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/** Nearest-rank percentile of an ascending array. */
export function pct(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
