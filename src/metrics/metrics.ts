import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../db/connect.js';
import { countQueue, countWebhookBacklog } from '../db/metrics-repo.js';
import { MODELS, MODES } from '../domain/models.js';
import type { EngineStanding } from '../engines/health.js';
import { createCapturedTotals } from './captured.js';
import { createHttpTally, type HttpTally } from './http-tally.js';

/**
 * This process's Prometheus metrics (`GET /metrics`, docs/operations.md#metrics). Counters count
 * what this process did (each process of many exposes its own; Prometheus sums them); the queue,
 * the webhook backlog and the money captured are read from the database at scrape time, so any
 * one process tells the whole truth about them.
 */
/** A task that ended: `engine` null when none ran it, `failCode` null on success. */
export interface TaskEnded {
  model: string;
  engine: string | null;
  state: 'success' | 'failed';
  failCode: string | null;
}

export interface Metrics {
  registry: Registry;
  /** HTTP requests by route pattern and status; the fast path holds its slot. */
  http: HttpTally;
  /** An accepted submit (not an Idempotency-Key replay). */
  taskSubmitted(model: string, mode: string): void;
  /** A task ended (the settle that won); `seconds` from submit to now. */
  taskFinished(t: TaskEnded, seconds: number): void;
  /** An engine attempt that did not succeed (any fail code; an aborted run is not one). */
  engineFailed(engine: string): void;
  /** An upstream job given up on (TIMEOUT) that was later seen to finish with a video. */
  lateCompletion(engine: string): void;
  /** One webhook attempt's outcome: `retry` when another attempt is scheduled. */
  webhookAttempt(result: 'delivered' | 'failed' | 'gone' | 'retry'): void;
}

export interface MetricsSources {
  db: Db;
  /** Engine names known at start, so their failure counters exist (at 0) before the first failure. */
  engines: readonly string[];
  /** This process's engine standings, or the workers' as stored (main.ts `engineStandings`). */
  engineStandings: () => EngineStanding[];
  now: () => number;
}

/** Submit → final, s: a fast render takes ≈ 10–20 s, quality minutes, the task timeout is 15 min. */
const TASK_BUCKETS = [1, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240, 300, 450, 600, 900, 1200];

export function createMetrics(src: MetricsSources): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const submitted = new Counter({
    name: 'longshot_tasks_submitted_total',
    help: 'Tasks accepted by this process (Idempotency-Key replays are not counted).',
    labelNames: ['model', 'mode'],
    registers,
  });
  for (const model of MODELS) for (const mode of MODES) submitted.inc({ model, mode }, 0);
  const finished = new Counter({
    name: 'longshot_tasks_finished_total',
    help: 'Tasks ended by this process (success, or failed with fail_code; fail_code is empty on success, engine empty when none ran).',
    labelNames: ['model', 'engine', 'state', 'fail_code'],
    registers,
  });
  const duration = new Histogram({
    name: 'longshot_task_duration_seconds',
    help: 'Time from submit to the final state of the tasks this process ended, s (every final state).',
    labelNames: ['model', 'engine'],
    buckets: TASK_BUCKETS,
    registers,
  });
  const engineFailures = new Counter({
    name: 'longshot_engine_failures_total',
    help: "Engine attempts in this process that did not succeed (any fail code, the upstream's or the content's).",
    labelNames: ['engine'],
    registers,
  });
  for (const engine of src.engines) engineFailures.inc({ engine }, 0);
  const lateCompletions = new Counter({
    name: 'longshot_upstream_late_completions_total',
    help: 'Upstream jobs seen by this process to finish with a video after their task failed with TIMEOUT: work the upstream may bill that no client was charged for.',
    labelNames: ['engine'],
    registers,
  });
  for (const engine of src.engines) lateCompletions.inc({ engine }, 0);
  const webhooks = new Counter({
    name: 'longshot_webhook_deliveries_total',
    help: 'Webhook attempts made by this process, by outcome: delivered, failed (retries used up), gone (410), retry (another attempt is scheduled).',
    labelNames: ['result'],
    registers,
  });
  for (const result of ['delivered', 'failed', 'gone', 'retry']) webhooks.inc({ result }, 0);

  new Gauge({
    name: 'longshot_queue_depth',
    help: 'Tasks pending (waiting for a worker) and processing, from the database (all processes).',
    labelNames: ['state'],
    registers,
    async collect() {
      const q = await countQueue(src.db);
      this.set({ state: 'pending' }, q.pending);
      this.set({ state: 'processing' }, q.processing);
    },
  });
  new Gauge({
    name: 'longshot_webhook_backlog',
    help: 'Webhook deliveries not final yet (due, or waiting for a retry), from the database (all processes).',
    registers,
    async collect() {
      this.set(await countWebhookBacklog(src.db));
    },
  });
  const captured = createCapturedTotals(src.db);
  new Counter({
    name: 'longshot_captured_usd_total',
    help: 'Money captured (charged for successful tasks), USD, by model: the sum of the ledger, from the database (all processes).',
    labelNames: ['model'],
    registers,
    async collect() {
      const totals = await captured.read();
      this.reset();
      for (const model of new Set([...MODELS, ...totals.keys()])) this.inc({ model }, (totals.get(model) ?? 0) / 1_000_000);
    },
  });
  new Gauge({
    name: 'longshot_engine_available',
    help: "1 when an upstream engine's models and credentials are usable, 0 when it is unavailable (this process's health record, or the workers' as stored).",
    labelNames: ['engine'],
    registers,
    collect() {
      this.reset();
      for (const s of src.engineStandings()) this.set({ engine: s.engine }, s.available ? 1 : 0);
    },
  });
  new Gauge({
    name: 'longshot_engine_breaker_open',
    help: "1 while an upstream engine's circuit breaker is open (tasks skip it), else 0.",
    labelNames: ['engine'],
    registers,
    collect() {
      this.reset();
      const at = src.now();
      for (const s of src.engineStandings()) this.set({ engine: s.engine }, s.openUntil !== null && s.openUntil > at ? 1 : 0);
    },
  });

  return {
    registry,
    http: createHttpTally(registry),
    taskSubmitted: (model, mode) => submitted.inc({ model, mode }),
    taskFinished: (t, seconds) => {
      const engine = t.engine ?? '';
      finished.inc({ model: t.model, engine, state: t.state, fail_code: t.failCode ?? '' });
      duration.observe({ model: t.model, engine }, Math.max(0, seconds));
    },
    engineFailed: (engine) => engineFailures.inc({ engine }),
    lateCompletion: (engine) => lateCompletions.inc({ engine }),
    webhookAttempt: (result) => webhooks.inc({ result }),
  };
}
