// npm run bench:upstream — Longshot's added latency on upstream (Veo) tasks: from the upstream
// finishing a job to our task reaching `success`, and the polls per task it costs.
//
// A fake Gemini API runs in this process; the service (a child process, `gemini` engine routed as
// `official`) polls it with its real schedule (src/engines/poll-schedule.ts). Completion times are
// drawn uniformly from 11 s to 6 min with a seeded PRNG and time-scaled by BENCH_SCALE (default
// 20×), and so is the service's poll policy; poll waits are scaled back to real seconds, while
// processing (download, inspect, poster, store, settle) runs at real speed and is not scaled.
// The previous schedule (first poll after 10 s, then ×1.5 up to 30 s) and an ideal (lag-free)
// run of the current one are simulated on the same drawn times for comparison.
//
// BENCH_SCALE, BENCH_TASKS (120), BENCH_WARMUP (20), BENCH_IN_FLIGHT (40), BENCH_SEED.
// Runs the compiled service (npm run build first). Writes bench/results/upstream-<date>.json.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { resolveFfmpeg } from '../dist/engines/ffmpeg.js';
import { LatencyHistory, nextPollDelay } from '../dist/engines/poll-schedule.js';
import { cpuMs, pct, root, sleep, startService, stop } from './lib.mjs';

const SCALE = Number(process.env.BENCH_SCALE ?? 20);
const TASKS = Math.max(1, Number(process.env.BENCH_TASKS ?? 120));
const WARMUP = Math.max(0, Number(process.env.BENCH_WARMUP ?? 20));
const IN_FLIGHT = Math.max(1, Number(process.env.BENCH_IN_FLIGHT ?? 40));
const SEED = Number(process.env.BENCH_SEED ?? 20261127);
const MIN_S = 11;
const MAX_S = 360;
const WORKERS = 48;
const DENSE_MS = 5000;
const SPARSE_MAX_MS = 30_000;
const TARGET_ADDED_S = 5;
const TARGET_POLLS_PER_5S = 1;
if (!(SCALE > 0)) throw new Error(`BENCH_SCALE=${process.env.BENCH_SCALE} is not a positive number`);

/** mulberry32: a small seeded PRNG, so every run draws the same completion times. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(SEED);
/** Real (unscaled) completion seconds of task k (warm-up first, then the measured batch). */
const drawn = Array.from({ length: WARMUP + TASKS }, () => MIN_S + rand() * (MAX_S - MIN_S));

const now = () => performance.timeOrigin + performance.now(); // epoch ms, sub-ms resolution
const run = promisify(execFile);
const GOOGLE = 'https://generativelanguage.googleapis.com';
const MODELS = new Set(['veo-3.1-fast-generate-preview', 'veo-3.1-generate-preview']);

/** The fake Gemini API: jobs by operation id, done `drawn[k] / SCALE` s after their submit. */
async function startFake(clip) {
  const apiKey = 'bench-gemini-key';
  const jobs = new Map();
  const byTask = new Map(); // k → jobs submitted for it (more than one would be a resubmit)
  const stats = { submits: 0, polls: 0, pollsAfterSeen: 0, downloads: 0, unauthorized: 0, unknown: 0 };
  let seq = 0;
  const send = (res, status, body) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
    res.end(JSON.stringify(body));
  };
  const err = (res, code, status, message) => send(res, code, { error: { code, message, status } });
  async function handle(req, res) {
    const url = new URL(req.url ?? '/', 'http://fake');
    const chunks = [];
    for await (const c of req) chunks.push(c);
    if (req.headers['x-goog-api-key'] !== apiKey) {
      stats.unauthorized++;
      return err(res, 403, 'PERMISSION_DENIED', "Method doesn't allow unregistered callers. Please use an API Key.");
    }
    const modelGet = /^\/v1beta\/models\/([^/:]+)$/.exec(url.pathname);
    if (req.method === 'GET' && modelGet) {
      const model = decodeURIComponent(modelGet[1]);
      if (!MODELS.has(model)) return err(res, 404, 'NOT_FOUND', `Model is not found: models/${model} for api version v1beta`);
      return send(res, 200, { name: `models/${model}`, supportedGenerationMethods: ['predictLongRunning'] });
    }
    const submit = /^\/v1beta\/models\/([^/:]+):predictLongRunning$/.exec(url.pathname);
    if (req.method === 'POST' && submit) {
      const at = now();
      const model = decodeURIComponent(submit[1]);
      if (!MODELS.has(model)) return err(res, 404, 'NOT_FOUND', `models/${model} is not found for API version v1beta`);
      const prompt = JSON.parse(Buffer.concat(chunks).toString('utf8'))?.instances?.[0]?.prompt;
      const k = Number(/bench-task-(\d+)/.exec(String(prompt))?.[1]);
      if (!Number.isInteger(k) || drawn[k] === undefined) return err(res, 400, 'INVALID_ARGUMENT', `unknown bench prompt ${prompt}`);
      const id = `op${++seq}`;
      const job = { id, k, model, submittedAt: at, doneAt: at + (drawn[k] * 1000) / SCALE, seenAt: null, polls: 0, pollTimes: [] };
      jobs.set(id, job);
      byTask.set(k, [...(byTask.get(k) ?? []), job]);
      stats.submits++;
      return send(res, 200, { name: `models/${model}/operations/${id}` });
    }
    const poll = /^\/v1beta\/models\/([^/]+)\/operations\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && poll) {
      const at = now();
      stats.polls++;
      const job = jobs.get(poll[2]);
      const name = url.pathname.slice('/v1beta/'.length);
      if (!job) {
        stats.unknown++;
        return err(res, 404, 'NOT_FOUND', 'Operation not found');
      }
      job.polls++;
      job.pollTimes.push(at - job.submittedAt);
      if (at < job.doneAt) return send(res, 200, { name, done: false });
      if (job.seenAt === null) job.seenAt = at;
      else stats.pollsAfterSeen++;
      return send(res, 200, {
        name,
        done: true,
        response: {
          '@type': 'type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse',
          generateVideoResponse: { generatedSamples: [{ video: { uri: `${GOOGLE}/v1beta/files/${job.id}:download?alt=media` } }] },
        },
      });
    }
    const download = /^\/v1beta\/files\/([^/:]+):download$/.exec(url.pathname);
    if (req.method === 'GET' && download && url.searchParams.get('alt') === 'media') {
      if (!jobs.get(download[1])?.seenAt) return err(res, 404, 'NOT_FOUND', 'File not found');
      stats.downloads++;
      res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(clip.length) });
      return res.end(clip);
    }
    stats.unknown++;
    return err(res, 404, 'NOT_FOUND', `no route ${req.method} ${url.pathname}`);
  }
  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) err(res, 500, 'INTERNAL', String(e));
      else res.destroy();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    apiKey,
    jobs,
    byTask,
    stats,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(r));
    },
  };
}

/** The previous schedule: sleeps of 10 s, then ×1.5 (rounded) up to 30 s. Poll times in s for a job done at `d` s. */
function previousSchedule(d) {
  let t = 0;
  let interval = 10_000;
  let polls = 0;
  for (;;) {
    t += interval;
    interval = Math.min(SPARSE_MAX_MS, Math.round(interval * 1.5));
    polls++;
    if (t / 1000 >= d) return { wait: t / 1000 - d, polls };
  }
}

/**
 * The current schedule without any lag (no HTTP, timer or CPU delay), as a discrete-event run of
 * the measured jobs at their real submit times (scaled back), with the history the warm-up left
 * (its observed completion times) and each job's observed time recorded when seen, as the engine does.
 */
function idealCurrent(warmObserved, measured) {
  const history = new LatencyHistory();
  for (const ms of warmObserved) history.record(ms);
  const policy = { denseMs: DENSE_MS, sparseMaxMs: SPARSE_MAX_MS };
  const out = new Map();
  // Events: [time ms, job index, submit?]; a job's next poll is scheduled from its previous poll.
  const events = measured.map((m, i) => [m.submitMs, i, true]);
  const polls = measured.map(() => 0);
  while (events.length) {
    events.sort((a, b) => a[0] - b[0]);
    const [t, i, submit] = events.shift();
    const m = measured[i];
    const elapsed = t - m.submitMs;
    if (submit) {
      events.push([t + nextPollDelay(0, history, policy), i, false]);
      continue;
    }
    polls[i]++;
    if (elapsed >= m.doneMs) {
      history.record(elapsed);
      out.set(m.k, { wait: (elapsed - m.doneMs) / 1000, polls: polls[i] });
    } else {
      events.push([t + nextPollDelay(elapsed, history, policy), i]);
    }
  }
  return out;
}

/** CPU ms of a process's waited-for children (cutime + cstime): the service's ffmpeg runs. */
function childCpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100;
}

/** Busy CPU ms of the whole machine (all cores), from /proc/stat: to see load from outside the bench. */
function machineBusyMs() {
  const [, user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  return ((user + nice + system + irq + softirq + steal) * 1000) / 100;
}

const stat = (xs, digits = 2) => {
  const s = [...xs].sort((a, b) => a - b);
  const r = (v) => (v === null ? null : Number(v.toFixed(digits)));
  return { median: r(pct(s, 50)), p95: r(pct(s, 95)), max: r(s.at(-1) ?? null), mean: s.length ? r(s.reduce((a, b) => a + b, 0) / s.length) : null };
};
const rate = (polls, jobSeconds) => Number(((polls / jobSeconds) * 5).toFixed(3));

const dataDir = await mkdtemp(join(tmpdir(), 'longshot-upstream-bench-'));
let svc = null;
let fake = null;
const pending = new Set(); // our unfinished task ids
let watching = true;
let probing = true;
try {
  // One 8 s 1280×720 H.264/AAC clip, served for every job.
  const clipPath = join(dataDir, 'clip.mp4');
  await run(resolveFfmpeg(process.env.LONGSHOT_FFMPEG), [
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    'color=c=teal:size=1280x720:rate=24',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440',
    '-t',
    '8',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    '-c:a',
    'aac',
    clipPath,
  ]);
  const clip = await readFile(clipPath);
  fake = await startFake(clip);

  const env = {
    GEMINI_API_KEY: fake.apiKey,
    LONGSHOT_GEMINI_BASE_URL: fake.url,
    LONGSHOT_ROUTES: 'official=gemini;auto=official;value=',
    LONGSHOT_WORKERS: String(WORKERS),
    LONGSHOT_UPSTREAM_POLL_MS: String(Math.round(DENSE_MS / SCALE)),
    LONGSHOT_UPSTREAM_POLL_MAX_MS: String(Math.round(SPARSE_MAX_MS / SCALE)),
    LONGSHOT_UPSTREAM_DEADLINE_SECONDS: '600',
    LONGSHOT_UPSTREAM_RETRY_MS: '20',
  };
  svc = await startService(join(dataDir, 'data'), [], env);
  const headers = { authorization: `Bearer ${svc.key}`, 'content-type': 'application/json' };
  // The service's warnings and errors (JSON log lines), kept for the report.
  const serviceLog = [];
  let partial = '';
  svc.child.stdout.on('data', (d) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop();
    for (const l of lines) if (/"level":(40|50|60)/.test(l)) serviceLog.push(l.slice(0, 400));
  });

  const tasks = new Map(); // taskId → { k, createTime, completeTime }
  async function submitTask(k) {
    const res = await fetch(`${svc.url}/api/v1/generateTask/veo-3-1`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ provider: 'official', input: { prompt: `a calm ocean at sunset, bench-task-${k}`, mode: 'fast' } }),
    });
    const body = await res.json();
    if (res.status !== 200 || !body.data?.taskId) throw new Error(`submit of task ${k} failed: ${res.status} ${JSON.stringify(body)}`);
    tasks.set(body.data.taskId, { k, createTime: null, completeTime: null });
    return body.data.taskId;
  }
  /** Reads our status of every unfinished task; throws on a failed one. */
  async function readPending() {
    await Promise.all(
      [...pending].map(async (id) => {
        const s = (await (await fetch(`${svc.url}/api/v1/statusTask/veo-3-1?taskId=${id}`, { headers })).json()).data;
        if (s.state === 'failed') throw new Error(`task ${id} (bench-task-${tasks.get(id).k}) failed: ${s.failCode ?? ''} ${s.failMsg ?? JSON.stringify(s)}`);
        if (s.state === 'success') {
          Object.assign(tasks.get(id), { createTime: s.createTime, completeTime: s.completeTime });
          pending.delete(id);
        }
      }),
    );
  }
  const watcher = (async () => {
    while (watching || pending.size) {
      await readPending();
      await sleep(250);
    }
  })();
  const watchErr = watcher.catch((e) => e); // resolves to the error, or undefined once all are read
  /** Waits `ms`, throwing what the watcher failed with (a failed task) meanwhile. */
  const tick = async (ms) => {
    const e = await Promise.race([watchErr, sleep(ms).then(() => null)]);
    if (e) throw e;
  };

  const t0 = Date.now();
  const log = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${msg}`);
  log(`fake Gemini at ${fake.url}, service at ${svc.url}; scale ${SCALE}×, seed ${SEED}`);
  // Warm-up: all at once; the engine learns completion times from these.
  for (let k = 0; k < WARMUP; k++) pending.add(await submitTask(k));
  while (pending.size) await tick(200);
  log(`warm-up: ${WARMUP} tasks done`);

  // Measured batch: a steady pace (mean job time / IN_FLIGHT), never more than IN_FLIGHT unfinished.
  const paceMs = (((MIN_S + MAX_S) / 2 / SCALE) * 1000) / IN_FLIGHT;
  const batchStart = Date.now();
  // Stall probes: the service's /healthz (memory only) every 50 ms, and this process's own event loop.
  const probes = [];
  const prober = (async () => {
    while (probing) {
      const t = performance.now();
      await fetch(`${svc.url}/healthz`).then((r) => r.arrayBuffer());
      probes.push({ atS: (Date.now() - batchStart) / 1000, ms: performance.now() - t });
      await sleep(50);
    }
  })().catch(() => {}); // only a stopped service ends it early
  const benchLoop = monitorEventLoopDelay({ resolution: 10 });
  benchLoop.enable();
  const cpuBefore = cpuMs(svc.pid);
  const childCpuBefore = childCpuMs(svc.pid);
  const benchCpuBefore = process.cpuUsage();
  const machineBefore = machineBusyMs();
  const loadBefore = loadavg()[0];
  let maxInFlight = 0;
  for (let k = WARMUP; k < WARMUP + TASKS; k++) {
    while (pending.size >= IN_FLIGHT) await tick(20);
    const next = batchStart + (k - WARMUP) * paceMs;
    if (next > Date.now()) await sleep(next - Date.now());
    pending.add(await submitTask(k));
    maxInFlight = Math.max(maxInFlight, pending.size);
  }
  watching = false;
  const failedWith = await watchErr;
  if (failedWith) throw failedWith;
  const batchSeconds = (Date.now() - batchStart) / 1000;
  const serviceCpuS = (cpuMs(svc.pid) - cpuBefore) / 1000;
  const ffmpegCpuS = (childCpuMs(svc.pid) - childCpuBefore) / 1000;
  const benchCpu = process.cpuUsage(benchCpuBefore);
  const benchCpuS = (benchCpu.user + benchCpu.system) / 1e6;
  const machineS = (machineBusyMs() - machineBefore) / 1000;
  const otherCpuS = Math.max(0, machineS - serviceCpuS - ffmpegCpuS - benchCpuS);
  benchLoop.disable();
  probing = false;
  await prober;
  log(
    `measured: ${TASKS} tasks done in ${batchSeconds.toFixed(1)} s (max ${maxInFlight} unfinished); CPU: service ${serviceCpuS.toFixed(1)} s, its ffmpeg ${ffmpegCpuS.toFixed(1)} s, bench (fake + status reads) ${benchCpuS.toFixed(1)} s`,
  );

  // Per task, from the fake's job and our status.
  const rows = [];
  const resubmitted = [];
  for (const [taskId, t] of tasks) {
    const js = fake.byTask.get(t.k) ?? [];
    if (js.length !== 1) resubmitted.push({ k: t.k, taskId, upstreamJobs: js.length });
    const j = js.at(-1);
    if (!j || j.seenAt === null) throw new Error(`task ${taskId} succeeded without its upstream job seen done`);
    rows.push({
      k: t.k,
      taskId,
      warmup: t.k < WARMUP,
      doneS: drawn[t.k],
      pollWaitS: ((j.seenAt - j.doneAt) / 1000) * SCALE,
      processingS: (t.completeTime - j.seenAt) / 1000,
      polls: j.polls,
      submitMs: (j.submittedAt - batchStart) * SCALE, // scaled back, for the simulation
      claimS: (j.submittedAt - t.createTime) / 1000,
      firstPollS: (j.pollTimes[0] / 1000) * SCALE,
      gapsS: j.pollTimes.slice(1).map((p, i) => ((p - j.pollTimes[i]) / 1000) * SCALE),
      seenAt: j.seenAt,
      completeTime: t.completeTime,
      observedMs: (j.seenAt - j.submittedAt) * SCALE,
    });
  }
  const measured = rows.filter((r) => !r.warmup).sort((a, b) => a.k - b.k);
  const warm = rows.filter((r) => r.warmup);
  for (const r of measured) {
    r.addedS = r.pollWaitS + r.processingS;
    // Other tasks between their upstream done-seen and their settle when this one was seen: queueing for CPU.
    r.concurrent = rows.filter((o) => o !== r && o.seenAt <= r.seenAt && o.completeTime > r.seenAt).length;
  }
  const jobSeconds = measured.reduce((a, r) => a + r.doneS, 0);
  const totalPolls = measured.reduce((a, r) => a + r.polls, 0);

  const prev = measured.map((r) => ({ ...previousSchedule(r.doneS), processingS: r.processingS }));
  const ideal = idealCurrent(
    warm.map((r) => r.observedMs),
    measured.map((r) => ({ k: r.k, submitMs: r.submitMs, doneMs: r.doneS * 1000 })),
  );
  const idealRows = measured.map((r) => ({ ...ideal.get(r.k), processingS: r.processingS }));
  const summarize = (xs) => ({
    addedLatencyS: stat(xs.map((x) => x.wait + x.processingS)),
    pollWaitS: stat(xs.map((x) => x.wait)),
    pollsPerTask: stat(
      xs.map((x) => x.polls),
      1,
    ),
    pollsPer5sOfJob: rate(
      xs.reduce((a, x) => a + x.polls, 0),
      jobSeconds,
    ),
  });
  const gaps = measured.flatMap((r) => r.gapsS);
  const denseGaps = gaps.filter((g) => g < (DENSE_MS / 1000) * 1.5);
  const quiet = measured.filter((r) => r.concurrent === 0).map((r) => r.processingS);
  const busy = measured.filter((r) => r.concurrent >= 2).map((r) => r.processingS);
  const early = measured.filter((r) => r.pollWaitS > (DENSE_MS / 1000) * 1.5);

  const results = {
    measured: {
      addedLatencyS: stat(measured.map((r) => r.addedS)),
      pollWaitS: stat(measured.map((r) => r.pollWaitS)),
      processingS: stat(
        measured.map((r) => r.processingS),
        3,
      ),
      pollsPerTask: stat(
        measured.map((r) => r.polls),
        1,
      ),
      totalPolls,
      jobSeconds: Number(jobSeconds.toFixed(1)),
      pollsPer5sOfJob: rate(totalPolls, jobSeconds),
      meetsTarget: {
        medianAddedLatency: stat(measured.map((r) => r.addedS)).median <= TARGET_ADDED_S,
        pollRate: rate(totalPolls, jobSeconds) <= TARGET_POLLS_PER_5S,
      },
    },
    simulatedPrevious: { label: 'simulated: first poll after 10 s, then ×1.5 up to 30 s (same drawn times, measured processing)', ...summarize(prev) },
    simulatedIdealCurrent: {
      label: 'simulated: current schedule with no HTTP/timer/CPU lag (same drawn times and submit times, warm-up history, measured processing)',
      ...summarize(idealRows),
    },
    engineBehaviour: {
      firstPollAfterS: stat(measured.map((r) => r.firstPollS)),
      pollGapS: stat(gaps),
      denseGapS: stat(denseGaps, 3),
      learnedStartS: { warmupMinObservedS: Number((Math.min(...warm.map((r) => r.observedMs)) / 1000).toFixed(2)) },
      tasksSeenLateByMoreThan1_5DenseIntervals: early.map((r) => ({
        k: r.k,
        doneS: Number(r.doneS.toFixed(1)),
        firstPollS: Number(r.firstPollS.toFixed(1)),
        pollWaitS: Number(r.pollWaitS.toFixed(1)),
      })),
      processingSWhenAlone: stat(quiet, 3),
      processingSWithTwoOrMoreOthersProcessing: stat(busy, 3),
      tasksAlone: quiet.length,
      tasksWithTwoOrMore: busy.length,
      createToUpstreamSubmitS: stat(
        measured.map((r) => r.claimS),
        3,
      ),
      fake: { ...fake.stats },
      upstreamJobsPerTaskNotOne: resubmitted,
      machineCpuSecondsDuringBatch: Number(machineS.toFixed(1)),
      // Busy CPU of the machine not accounted to the service, its ffmpeg or this process: another load on the box.
      otherCpuSecondsDuringBatch: Number(otherCpuS.toFixed(1)),
      loadAverage1m: { before: Number(loadBefore.toFixed(2)), after: Number(loadavg()[0].toFixed(2)) },
      serviceCpuSecondsDuringBatch: Number(serviceCpuS.toFixed(1)),
      serviceFfmpegCpuSecondsDuringBatch: Number(ffmpegCpuS.toFixed(1)),
      benchProcessCpuSecondsDuringBatch: Number(benchCpuS.toFixed(1)),
      // Each dense poll's lag beyond the dense interval, in real (unscaled) ms: scale × this counts in poll wait.
      healthzProbeMs: stat(
        probes.map((x) => x.ms),
        1,
      ),
      healthzSlowerThan100ms: probes.filter((x) => x.ms > 100).map((x) => ({ atS: Number(x.atS.toFixed(2)), ms: Math.round(x.ms) })),
      benchEventLoopDelayMs: { p99: Number((benchLoop.percentile(99) / 1e6).toFixed(1)), max: Number((benchLoop.max / 1e6).toFixed(1)) },
      serviceWarnings: serviceLog.length,
      serviceWarningSamples: serviceLog.slice(0, 10),
      densePollLagRealMs: stat(
        denseGaps.map((g) => ((g - DENSE_MS / 1000) * 1000) / SCALE),
        1,
      ),
      batchWallSeconds: Number(batchSeconds.toFixed(1)),
      maxUnfinished: maxInFlight,
    },
  };

  const setup = {
    scale: SCALE,
    tasks: TASKS,
    warmup: WARMUP,
    inFlight: IN_FLIGHT,
    paceMs: Number(paceMs.toFixed(1)),
    workers: WORKERS,
    seed: SEED,
    prng: 'mulberry32',
    completionTimes: {
      distribution: `uniform ${MIN_S} s – ${MAX_S} s (real; /${SCALE} in the run)`,
      measured: stat(
        measured.map((r) => r.doneS),
        1,
      ),
    },
    policy: {
      denseMs: DENSE_MS,
      sparseMaxMs: SPARSE_MAX_MS,
      serviceEnv: Object.fromEntries(
        Object.entries(env).filter(([k]) => k.startsWith('LONGSHOT_UPSTREAM') || k === 'LONGSHOT_WORKERS' || k === 'LONGSHOT_ROUTES'),
      ),
    },
    target: { medianAddedLatencyS: TARGET_ADDED_S, pollsPer5sOfJob: TARGET_POLLS_PER_5S },
    notes: [
      'poll wait = (first poll that saw the job done − its completion) × scale: what the schedule adds, in real seconds',
      'processing = our completeTime − that poll (download, inspect, poster, store, settle), real time, not scaled',
      'added latency = poll wait + processing; poll rate = total polls / total real job seconds × 5',
      'at scale N every lag in a poll (HTTP round trip, timers, event loop) counts N× in poll wait',
    ],
  };

  // The table.
  const f = (v, d = 2) => (v === null || v === undefined ? '—' : Number(v).toFixed(d));
  const line = (name, s, d = 2) =>
    `${name.padEnd(30)} ${f(s.median, d).padStart(8)} ${f(s.p95, d).padStart(8)} ${f(s.max, d).padStart(8)} ${f(s.mean, d).padStart(8)}`;
  const m = results.measured;
  const p = results.simulatedPrevious;
  const i = results.simulatedIdealCurrent;
  console.log(`\n${TASKS} measured tasks (after ${WARMUP} warm-up), completion times uniform ${MIN_S}–${MAX_S} s (seed ${SEED}), scale ${SCALE}×`);
  console.log(`${''.padEnd(30)} ${'median'.padStart(8)} ${'p95'.padStart(8)} ${'max'.padStart(8)} ${'mean'.padStart(8)}`);
  console.log(line('added latency, s', m.addedLatencyS));
  console.log(line('  poll wait, s', m.pollWaitS));
  console.log(line('  processing, s', m.processingS, 3));
  console.log(line('polls per task', m.pollsPerTask, 1));
  console.log(
    `${'polls per 5 s of job time'.padEnd(30)} ${f(m.pollsPer5sOfJob, 3).padStart(8)}   (${totalPolls} polls / ${jobSeconds.toFixed(0)} job s; target ≤ ${TARGET_POLLS_PER_5S})`,
  );
  console.log(
    `target: median added ≤ ${TARGET_ADDED_S} s: ${m.meetsTarget.medianAddedLatency ? 'met' : 'NOT met'}; poll rate ≤ ${TARGET_POLLS_PER_5S}: ${m.meetsTarget.pollRate ? 'met' : 'NOT met'}`,
  );
  for (const [label, s] of [
    ['simulated previous (10 s ×1.5 → 30 s)', p],
    ['simulated current, no lag', i],
  ]) {
    console.log(`\n${label}`);
    console.log(line('added latency, s', s.addedLatencyS));
    console.log(line('  poll wait, s', s.pollWaitS));
    console.log(line('polls per task', s.pollsPerTask, 1));
    console.log(`${'polls per 5 s of job time'.padEnd(30)} ${f(s.pollsPer5sOfJob, 3).padStart(8)}`);
  }
  const e = results.engineBehaviour;
  console.log('\nengine behaviour (real seconds)');
  console.log(line('first poll after, s', e.firstPollAfterS));
  console.log(line('dense poll gap, s', e.denseGapS, 3));
  console.log(`${line('processing alone, s', e.processingSWhenAlone, 3)}   (${e.tasksAlone} tasks)`);
  console.log(`${line('processing with ≥2 others, s', e.processingSWithTwoOrMoreOthersProcessing, 3)}   (${e.tasksWithTwoOrMore} tasks)`);
  console.log(line('create → upstream submit, s', e.createToUpstreamSubmitS, 3));
  console.log(`${line('dense poll lag, unscaled ms', e.densePollLagRealMs, 1)}   (×${SCALE} in poll wait)`);
  console.log(
    `seen late (> 1.5 dense intervals): ${early.length} tasks (${early.map((r) => `${r.doneS.toFixed(0)} s job +${r.pollWaitS.toFixed(1)}`).join(', ')})`,
  );
  console.log(
    `${line('service /healthz probe, ms', e.healthzProbeMs, 1)}   (${e.healthzSlowerThan100ms.length} over 100 ms; bench loop delay max ${e.benchEventLoopDelayMs.max} ms; service warnings ${e.serviceWarnings})`,
  );
  console.log(
    `polls after seen done: ${fake.stats.pollsAfterSeen}; resubmits: ${resubmitted.length}; CPU in ${e.batchWallSeconds} s: service ${e.serviceCpuSecondsDuringBatch} s, its ffmpeg ${e.serviceFfmpegCpuSecondsDuringBatch} s, bench ${e.benchProcessCpuSecondsDuringBatch} s, other processes ${e.otherCpuSecondsDuringBatch} s (of ${cpus().length} × ${e.batchWallSeconds} s)`,
  );

  const extra = [
    SCALE !== 20 && `BENCH_SCALE=${SCALE}`,
    TASKS !== 120 && `BENCH_TASKS=${TASKS}`,
    WARMUP !== 20 && `BENCH_WARMUP=${WARMUP}`,
    IN_FLIGHT !== 40 && `BENCH_IN_FLIGHT=${IN_FLIGHT}`,
    process.env.BENCH_SEED && `BENCH_SEED=${SEED}`,
  ].filter(Boolean);
  const report = {
    date: new Date().toISOString(),
    command: `${extra.length ? `${extra.join(' ')} ` : ''}npm run bench:upstream`,
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
    setup,
    results,
    tasks: measured.map((r) => ({
      k: r.k,
      doneS: Number(r.doneS.toFixed(2)),
      pollWaitS: Number(r.pollWaitS.toFixed(2)),
      processingS: Number(r.processingS.toFixed(3)),
      polls: r.polls,
      concurrent: r.concurrent,
      seenAtBatchS: Number(((r.seenAt - batchStart) / 1000).toFixed(3)),
      completeAtBatchS: Number(((r.completeTime - batchStart) / 1000).toFixed(3)),
      pollsAtS: fake.byTask
        .get(r.k)
        .at(-1)
        .pollTimes.map((t) => Number(((t / 1000) * SCALE).toFixed(2))),
    })),
  };
  await mkdir(join(root, 'bench/results'), { recursive: true });
  const file = join(
    root,
    'bench/results',
    `upstream-${report.date.slice(0, 10)}${
      extra.length
        ? `-${extra
            .map((x) =>
              x
                .replace(/^BENCH_/, '')
                .replace('=', '')
                .toLowerCase(),
            )
            .join('-')}`
        : ''
    }.json`,
  );
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwritten ${file}`);
} finally {
  watching = false;
  probing = false;
  pending.clear();
  if (svc) await stop(svc.child);
  if (fake) await fake.close();
  await rm(dataDir, { recursive: true, force: true });
}
