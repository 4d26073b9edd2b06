// One "worker process with a no-op engine" for bench/scale-out.mjs: the product has no no-op
// engine (every engine renders or calls an upstream), so this process runs the queue's own code
// from dist/ against PostgreSQL — claimNextTask (db/claim-task) and settleSuccess
// (services/settle-task: the compare-and-set, the hold capture, the outbox check — on PostgreSQL
// one statement for these tasks, which have no callback (db/capture-statement.ts) — and the
// task event through the real wake hub, listening as a worker process does) — in BENCH_QUEUE_LOOPS loops, as worker-pool.ts does,
// with nothing between claim and settle. Not run: the lease renewal timer and the cancel watch
// (a no-op render ends long before the first renewal at leaseMs / 3).
//
// Protocol on stdio: prints `ready` after BENCH_WARMUP s of claiming, starts counting at a `go`
// line on stdin, prints one JSON line {claimed, settled, lost, drained} after BENCH_DURATION s,
// then waits to be killed (its CPU time is read by the parent while it idles).
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import pino from 'pino';
import { claimNextTask } from '../dist/db/claim-task.js';
import { openPostgres } from '../dist/db/connect.js';
import { createMetrics } from '../dist/metrics/metrics.js';
import { settleSuccess } from '../dist/services/settle-task.js';
import { createTaskEvents } from '../dist/services/task-events.js';
import { createPgWakeHub } from '../dist/worker/pg-notify-waker.js';
import { createWaker } from '../dist/worker/waker.js';

const url = process.env.DATABASE_URL;
const LOOPS = Number(process.env.BENCH_QUEUE_LOOPS ?? 2);
const WARMUP_MS = Number(process.env.BENCH_WARMUP ?? 2) * 1000;
const DURATION_MS = Number(process.env.BENCH_DURATION ?? 10) * 1000;
const LEASE_MS = 30_000;

const log = pino({ level: 'warn' });
const db = openPostgres(url);
const hub = createPgWakeHub({ db, connectionString: url, log });
const clock = { now: () => Date.now() };
const metrics = createMetrics({ db, engines: ['noop'], engineStandings: () => [], now: clock.now });
// Only what settleSuccess reads from Deps; all of it the product's own objects.
const deps = { db, clock, metrics, taskEvents: hub.taskEvents(createTaskEvents()), wakeWebhooks: hub.waker('webhooks', createWaker()).wake };
// As main.ts does in a process with workers: the LISTEN connection hears every task row's NOTIFY
// (a worker's cancel watch needs them), and once it has seen migration 0012's trigger a task
// event rides on that trigger instead of a NOTIFY of its own.
await hub.listen();

const counts = { claimed: 0, settled: 0, lost: 0, drained: false };
let counting = false;

/** Claims and settles until `until` (ms); false when the queue ran dry. */
async function loop(until) {
  while (Date.now() < until) {
    const token = randomUUID();
    const quiet = deps.taskEvents.quietWrites();
    const task = await claimNextTask(db, clock.now(), LEASE_MS, token, quiet);
    if (!task) return false;
    deps.taskEvents.publish(task.id, quiet);
    if (counting) counts.claimed++;
    const fields = {
      engine: 'noop',
      result_key: `bench/${task.id}.mp4`,
      poster_key: `bench/${task.id}.jpg`,
      result_size: 1,
      result_etag: 'bench',
      duration_ms: 1000,
      width: 16,
      height: 16,
      expires_at: clock.now() + 86_400_000,
    };
    const won = await settleSuccess(deps, task, token, fields);
    if (counting) won ? counts.settled++ : counts.lost++;
  }
  return true;
}

const runLoops = async (ms) => {
  const until = Date.now() + ms;
  const ok = await Promise.all(Array.from({ length: LOOPS }, () => loop(until)));
  return ok.every(Boolean);
};

await runLoops(WARMUP_MS);
console.log('ready');
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line.trim() !== 'go') continue;
  counting = true;
  counts.drained = !(await runLoops(DURATION_MS));
  counting = false;
  console.log(JSON.stringify(counts));
}
