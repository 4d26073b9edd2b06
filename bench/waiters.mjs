// npm run bench:waiters: many clients waiting on task state at once. Starts the service with
// `serve --role api` (no workers, so submitted tasks stay pending), submits BENCH_WAITER_TASKS
// tasks, opens BENCH_WAITERS clients spread evenly over them (half long-poll
// `statusTask?wait=60`, half SSE `/events/{id}`, interleaved, all held at the same time) on raw
// keep-alive sockets, and records the service's RSS with them held against its idle RSS. Then it
// cancels the tasks: first BENCH_STAGGERED of them one at a time (the rest stay held), then all
// the others at once, and measures per client the time from its task's cancel request being sent
// to the client reading the new state. Prints a table, writes bench/results/waiters-<date>.json.
// Exits non-zero only on errors (refused or reset connections, non-200 answers), never on slowness.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuMs, pct, peakRssMb, root, rssMb, sleep, socketCount, startService, stop } from './lib.mjs';

/** BENCH_TAG=x names the results file <name>-<date>-x.json, so a run does not replace another's file. */
const TAG = process.env.BENCH_TAG ? `-${process.env.BENCH_TAG.replace(/[^\w.-]/g, '_')}` : '';
const WAITERS = Number(process.env.BENCH_WAITERS ?? 10_000);
const TASKS = Number(process.env.BENCH_WAITER_TASKS ?? 100);
const STAGGERED = Math.min(TASKS, Number(process.env.BENCH_STAGGERED ?? 10));
/** Clients being opened at once. */
const OPEN_CONCURRENCY = Number(process.env.BENCH_OPEN_CONCURRENCY ?? 200);
/** How long the held clients are watched (server CPU) before the cancels. */
const HOLD_MS = Number(process.env.BENCH_HOLD_MS ?? 5000);
/** A client that has not seen the new state this long after its task's cancel counts as missed. */
const FANOUT_TIMEOUT_MS = Number(process.env.BENCH_FANOUT_TIMEOUT_MS ?? 30_000);
const WAIT_S = 60;
const GOALS = { rssMb: 300, fanoutP99Ms: 100 };

/**
 * One waiting client on its own socket. Long-poll: re-asks (same socket, as a client would) when
 * a wait ends with the state unchanged. SSE: reads `event: status` events; the first is the
 * state at connect. `onNew` fires once, when a state other than `pending` is read.
 */
function openClient(host, port, key, kind, taskId, c) {
  const path = kind === 'poll' ? `/api/v1/statusTask/veo-3-1?taskId=${taskId}&wait=${WAIT_S}` : `/api/v1/events/${taskId}`;
  const request =
    `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nAuthorization: Bearer ${key}\r\n` +
    (kind === 'sse' ? 'Accept: text/event-stream\r\n' : '') +
    'Connection: keep-alive\r\n\r\n';
  const socket = connect({ host, port });
  c.socket = socket;
  socket.setNoDelay(true);
  let buf = '';
  let head = null; // { status, length } of the response being read
  socket.on('connect', () => {
    c.connected = true;
    socket.write(request);
    c.onWritten();
  });
  socket.on('error', (err) => c.fail(`socket: ${err.code ?? err.message}`));
  socket.on('close', () => {
    if (!c.newAt && !c.closing) c.fail('closed by the server before the new state');
  });
  socket.on('data', (chunk) => {
    buf += chunk.toString('latin1');
    for (;;) {
      if (!head) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = buf.slice(0, end).split('\r\n');
        const status = Number(lines[0].split(' ')[1]);
        const len = lines.find((l) => /^content-length:/i.test(l));
        head = { status, length: len ? Number(len.split(':')[1]) : null };
        buf = buf.slice(end + 4);
        if (status !== 200) return c.fail(`HTTP ${status}`);
      }
      if (kind === 'poll') {
        if (head.length === null) return c.fail('long-poll answer without content-length');
        if (buf.length < head.length) return;
        const body = buf.slice(0, head.length);
        buf = buf.slice(head.length);
        head = null;
        let state;
        try {
          state = JSON.parse(body).data.state;
        } catch {
          return c.fail(`unreadable body ${body.slice(0, 80)}`);
        }
        if (state === 'pending') {
          c.reissued++; // the wait ran out: ask again on the same connection
          socket.write(request);
          continue;
        }
        return c.newState(state);
      }
      // SSE: each event is written at once; the `id:` line carries the state.
      const re = /event: status\nid: (\w+)\ndata: /g;
      let last = 0;
      for (let m = re.exec(buf); m !== null; m = re.exec(buf)) {
        last = re.lastIndex;
        if (m[1] === 'pending') c.onInitial();
        else c.newState(m[1]);
      }
      if (last) buf = buf.slice(last);
      else if (buf.length > 65_536) buf = buf.slice(-4096);
      return;
    }
  });
}

async function main() {
  const dataDir = await mkdtemp(join(tmpdir(), 'longshot-waiters-'));
  // config.ts has no cap on waiting clients or connections to raise; the per-key limits are off.
  const svc = await startService(dataDir, ['--role', 'api']);
  const { url, key, pid } = svc;
  const { hostname: host, port } = new URL(url);
  const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const errors = [];
  const clients = [];
  try {
    const taskIds = [];
    for (let i = 0; i < TASKS; i++) {
      const res = await fetch(`${url}/api/v1/generateTask/veo-3-1`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ input: { prompt: `waiters ${i}`, mode: 'fast' } }),
      });
      const body = await res.json();
      if (res.status !== 200 || !body.data?.taskId) throw new Error(`submit answered ${res.status}: ${JSON.stringify(body)}`);
      taskIds.push(body.data.taskId);
    }
    await sleep(1000);
    const idleRss = rssMb(pid);
    const idleSockets = socketCount(pid);
    console.log(`${TASKS} tasks pending; idle RSS ${idleRss} MB; opening ${WAITERS} waiting clients…`);

    // Open the clients, OPEN_CONCURRENCY at a time. An SSE client is held once its first event
    // (the pending state) arrived; a long-poll client once its request is written (checked below
    // against the server's open sockets).
    const byTask = new Map(taskIds.map((id) => [id, []]));
    const openStart = performance.now();
    let next = 0;
    await new Promise((resolve) => {
      let inFlight = 0;
      let finished = 0;
      const launch = () => {
        while (inFlight < OPEN_CONCURRENCY && next < WAITERS) {
          const i = next++;
          const taskId = taskIds[i % TASKS];
          // Every task gets both kinds: alternate per round over the tasks.
          const kind = Math.floor(i / TASKS) % 2 === 0 ? 'poll' : 'sse';
          let opened = false;
          const settle = () => {
            if (opened) return;
            opened = true;
            inFlight--;
            finished++;
            if (finished === WAITERS) resolve();
            else launch();
          };
          const c = {
            kind,
            taskId,
            connected: false,
            held: false,
            reissued: 0,
            newAt: null,
            state: null,
            error: null,
            closing: false,
            onWritten: () => {
              if (kind === 'poll') {
                c.held = true;
                settle();
              }
            },
            onInitial: () => {
              c.held = true;
              settle();
            },
            fail: (msg) => {
              if (c.error || c.closing) return;
              c.error = msg;
              errors.push(`${kind} ${taskId}: ${msg}`);
              settle();
            },
          };
          c.newState = (state) => {
            if (c.newAt) return;
            c.newAt = performance.now();
            c.state = state;
            if (!c.held) {
              c.fail(`state ${state} before the client was held`);
            }
          };
          clients.push(c);
          byTask.get(taskId).push(c);
          inFlight++;
          openClient(host, port, key, kind, taskId, c);
        }
      };
      launch();
    });
    const openSec = (performance.now() - openStart) / 1000;

    // The server has them: wait until it has accepted every socket, then let the last requests
    // reach their wait.
    const expectSockets = idleSockets + clients.filter((c) => c.connected && !c.error).length;
    const deadline = Date.now() + 30_000;
    let serverSockets = socketCount(pid);
    while (serverSockets < expectSockets && Date.now() < deadline) {
      await sleep(250);
      serverSockets = socketCount(pid);
    }
    await sleep(2000);
    const held = { poll: 0, sse: 0 };
    for (const c of clients) if (c.held && !c.error && !c.newAt) held[c.kind]++;
    const cpu0 = cpuMs(pid);
    const t0 = performance.now();
    await sleep(HOLD_MS);
    const holdCpuPct = Number((((cpuMs(pid) - cpu0) / (performance.now() - t0)) * 100).toFixed(1));
    const heldRss = rssMb(pid);
    serverSockets = socketCount(pid);
    console.log(
      `held ${held.poll} long-poll + ${held.sse} SSE (opened in ${openSec.toFixed(1)} s); server sockets ${serverSockets}; RSS ${heldRss} MB; server CPU while holding ${holdCpuPct} % of a core`,
    );

    // Cancel: the first STAGGERED tasks one by one (each waits for its clients), then the rest at once.
    const cancelMs = new Map();
    const cancel = async (taskId) => {
      const res = await fetch(`${url}/api/v1/tasks/${taskId}/cancel`, { method: 'POST', headers: { authorization: auth.authorization } });
      const body = await res.json();
      cancelMs.set(taskId, performance.now() - sentAt.get(taskId));
      if (res.status !== 200 || body.data?.state !== 'failed') errors.push(`cancel ${taskId}: ${res.status} ${JSON.stringify(body).slice(0, 120)}`);
    };
    const sentAt = new Map();
    const allSeen = (ids, ms) =>
      new Promise((resolve) => {
        const end = Date.now() + ms;
        const check = () => {
          const pending = ids.some((id) => byTask.get(id).some((c) => c.held && !c.error && !c.newAt));
          if (!pending || Date.now() > end) resolve();
          else setTimeout(check, 5);
        };
        check();
      });
    const staggeredIds = taskIds.slice(0, STAGGERED);
    const burstIds = taskIds.slice(STAGGERED);
    for (const id of staggeredIds) {
      sentAt.set(id, performance.now());
      await cancel(id);
      await allSeen([id], FANOUT_TIMEOUT_MS);
      await sleep(100);
    }
    // The burst's cost: server CPU from the first cancel until every client has the new state
    // (or the timeout), and this bench process's own CPU (it reads every answer).
    const burstCpu0 = cpuMs(pid);
    const benchCpu0 = process.cpuUsage();
    const burstStart = performance.now();
    for (const id of burstIds) sentAt.set(id, burstStart);
    await Promise.all(burstIds.map(cancel));
    await allSeen(burstIds, FANOUT_TIMEOUT_MS);
    const burstWallMs = performance.now() - burstStart;
    const burstCpuMs = cpuMs(pid) - burstCpu0;
    const benchCpu = process.cpuUsage(benchCpu0);
    const afterRss = rssMb(pid);
    const peakRss = peakRssMb(pid);

    const fanout = (ids, kinds) => {
      const set = new Set(ids);
      const group = clients.filter((c) => set.has(c.taskId) && kinds.includes(c.kind) && c.held && !c.error);
      const lat = group
        .filter((c) => c.newAt && c.state === 'failed')
        .map((c) => c.newAt - sentAt.get(c.taskId))
        .sort((a, b) => a - b);
      const r = (v) => (v === null ? null : Number(v.toFixed(1)));
      return { tasks: ids.length, clients: group.length, got: lat.length, p50ms: r(pct(lat, 50)), p99ms: r(pct(lat, 99)), maxms: r(lat.at(-1) ?? null) };
    };
    const cancelRoundTrip = (ids) => {
      const lat = ids
        .map((id) => cancelMs.get(id))
        .filter((v) => v !== undefined)
        .sort((a, b) => a - b);
      return { p50ms: Number((pct(lat, 50) ?? 0).toFixed(1)), maxms: Number((lat.at(-1) ?? 0).toFixed(1)) };
    };
    const burstGot = clients.filter((c) => burstIds.includes(c.taskId) && c.newAt).length;
    const results = {
      waitersAsked: WAITERS,
      tasks: TASKS,
      held,
      openSec: Number(openSec.toFixed(1)),
      serverSockets,
      idleRssMb: idleRss,
      heldRssMb: heldRss,
      rssPerWaiterKb: Number((((heldRss - idleRss) * 1024) / Math.max(1, held.poll + held.sse)).toFixed(1)),
      afterFanoutRssMb: afterRss,
      peakRssMb: peakRss,
      holdCpuPctOfCore: holdCpuPct,
      longPollReissued: clients.reduce((n, c) => n + c.reissued, 0),
      fanout: {
        staggered: { all: fanout(staggeredIds, ['poll', 'sse']), longPoll: fanout(staggeredIds, ['poll']), sse: fanout(staggeredIds, ['sse']) },
        burst: { all: fanout(burstIds, ['poll', 'sse']), longPoll: fanout(burstIds, ['poll']), sse: fanout(burstIds, ['sse']) },
      },
      cancelRoundTrip: { staggered: cancelRoundTrip(staggeredIds), burst: cancelRoundTrip(burstIds) },
      burst: {
        wallMs: Math.round(burstWallMs),
        serverCpuMs: Math.round(burstCpuMs),
        serverCpuUsPerClient: Number(((burstCpuMs * 1000) / Math.max(1, burstGot)).toFixed(1)),
        benchCpuMs: Math.round((benchCpu.user + benchCpu.system) / 1000),
      },
      errors: errors.length,
      errorSamples: [...new Set(errors.map((e) => e.replace(/^\S+ \S+: /, '')))].slice(0, 10),
    };
    const report = {
      date: new Date().toISOString(),
      command: 'npm run bench:waiters',
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('BENCH_'))),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, loadavg1mAtEnd: Number(loadavg()[0].toFixed(2)) },
      goals: { rss: `≤ ${GOALS.rssMb} MB with 10,000 waiters`, fanout: `≤ ${GOALS.fanoutP99Ms} ms p99` },
      results,
      meetsGoals: {
        rss: heldRss <= GOALS.rssMb && held.poll + held.sse >= 10_000,
        fanoutStaggered:
          results.fanout.staggered.all.p99ms !== null &&
          results.fanout.staggered.all.p99ms <= GOALS.fanoutP99Ms &&
          results.fanout.staggered.all.got === results.fanout.staggered.all.clients,
        fanoutBurst:
          results.fanout.burst.all.p99ms !== null &&
          results.fanout.burst.all.p99ms <= GOALS.fanoutP99Ms &&
          results.fanout.burst.all.got === results.fanout.burst.all.clients,
      },
    };

    const n = (v) => (v === null ? '—' : v.toLocaleString('en'));
    const totalHeld = held.poll + held.sse;
    console.log(`\n| figure | value | goal |`);
    console.log('|---|---|---|');
    console.log(`| waiting clients held (long-poll + SSE) | ${n(held.poll)} + ${n(held.sse)} = ${n(totalHeld)} of ${n(WAITERS)}, on ${TASKS} tasks | 10,000 |`);
    console.log(`| service RSS, idle (${TASKS} tasks pending) | ${idleRss} MB | — |`);
    console.log(
      `| service RSS, ${n(totalHeld)} clients held | ${heldRss} MB (+${(results.rssPerWaiterKb).toFixed(1)} KB per client) | ≤ ${GOALS.rssMb} MB ${totalHeld < 10_000 ? '(fewer than 10,000 held: not judged)' : report.meetsGoals.rss ? '(met)' : '(**not met**)'} |`,
    );
    console.log(`| service RSS peak (VmHWM, through the fan-out) | ${peakRss} MB | — |`);
    console.log(`| service CPU while holding them, no state changes | ${holdCpuPct} % of a core | — |`);
    console.log(`\n| fan-out: cancel sent → client reads the new state | clients got it | p50 ms | p99 ms | max ms | goal p99 ≤ ${GOALS.fanoutP99Ms} ms |`);
    console.log('|---|---|---|---|---|---|');
    const row = (label, f, goal) => console.log(`| ${label} | ${n(f.got)} of ${n(f.clients)} | ${n(f.p50ms)} | ${n(f.p99ms)} | ${n(f.maxms)} | ${goal} |`);
    const { staggered, burst } = results.fanout;
    row(`one task at a time (${STAGGERED} tasks, others held), all`, staggered.all, report.meetsGoals.fanoutStaggered ? 'met' : '**not met**');
    row('… long-poll', staggered.longPoll, '');
    row('… SSE', staggered.sse, '');
    row(`${burstIds.length} tasks cancelled at once, all`, burst.all, report.meetsGoals.fanoutBurst ? 'met' : '**not met**');
    row('… long-poll', burst.longPoll, '');
    row('… SSE', burst.sse, '');
    const cr = results.cancelRoundTrip;
    console.log(
      `\ncancel request round trip: one at a time p50 ${cr.staggered.p50ms} ms, max ${cr.staggered.maxms} ms; at once p50 ${cr.burst.p50ms} ms, max ${cr.burst.maxms} ms`,
    );
    const b = results.burst;
    console.log(
      `burst: ${b.wallMs} ms wall, service CPU ${b.serverCpuMs} ms (${b.serverCpuUsPerClient} µs per client notified), bench process CPU ${b.benchCpuMs} ms`,
    );
    if (errors.length) console.log(`\n${errors.length} client errors, e.g. ${results.errorSamples.join('; ')}`);
    await mkdir(join(root, 'bench/results'), { recursive: true });
    const file = join(root, 'bench/results', `waiters-${report.date.slice(0, 10)}${TAG}.json`);
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nwritten ${file}`);
    if (errors.length) throw new Error(`${errors.length} client errors during the bench`);
  } finally {
    for (const c of clients) {
      c.closing = true;
      c.socket?.destroy();
    }
    await stop(svc.child);
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
