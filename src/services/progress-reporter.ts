import { raiseProgress, type TaskRow } from '../db/tasks-repo.js';
import type { Engine } from '../engines/engine.js';
import type { Deps } from './deps.js';
import { durationHistory } from './duration-history.js';
import { sendProgressEvent } from './running-events.js';

/** At most one progress write per task this often: a poll sees it within about a second. */
const WRITE_EVERY_MS = 1000;
/** 100 is the settle's (a stored result); an engine's own report stops just below. */
const REPORTED_CAP = 99;
/** An estimate from time stops here until the engine is done: it may run late. */
const ESTIMATE_CAP = 95;

interface EngineProgress {
  /** For `EngineRunContext.progress`: the engine's own fraction, 0–1. */
  report(fraction: number): void;
  /** Stops this engine attempt's estimate (the task's progress stays). */
  end(): void;
}

export interface ProgressReporter {
  /** Starts an engine attempt: its own reports, or for an engine without them an estimate from time. */
  forEngine(engine: Engine, model: string, mode: string): Promise<EngineProgress>;
  /** Stops and waits for the last write, before the task is settled. */
  close(): Promise<void>;
}

/**
 * A running task's progress (docs/api.md, progress): the highest value of this attempt, written
 * under the lease at most once a second (the row keeps the highest of every attempt, tasks-repo
 * raiseProgress) and announced to long-poll and SSE readers. An upstream engine cannot say how far
 * its job is, so its progress is the time elapsed against the median of its recent successful runs
 * of this model and mode (engine_runs), capped at 95 until the job is done.
 */
export function createProgressReporter(deps: Deps, task: TaskRow): ProgressReporter {
  const token = task.lease_token;
  let best = 0;
  let written = 0;
  let lastWriteAt = Number.NEGATIVE_INFINITY;
  let timer: NodeJS.Timeout | null = null;
  let writing: Promise<void> | null = null;
  let closed = false;

  const write = (): void => {
    timer = null;
    if (closed || token === null || best <= written) return;
    const value = best;
    lastWriteAt = performance.now();
    writing = raiseProgress(deps.db, task.id, token, value)
      .then(
        (raised) => {
          written = value;
          if (!raised) return;
          deps.taskEvents.publish(task.id);
          // A callback task that asked for `progress` events (docs/webhooks.md) gets one, throttled there.
          sendProgressEvent(deps, task).catch((err: unknown) => deps.log.warn({ err, taskId: task.id }, 'queueing a progress event failed'));
        },
        (err: unknown) => deps.log.warn({ err, taskId: task.id }, 'writing task progress failed'),
      )
      .finally(() => {
        writing = null;
        schedule();
      });
  };
  const schedule = (): void => {
    if (closed || best <= written || timer !== null || writing !== null) return;
    timer = setTimeout(write, Math.max(0, lastWriteAt + WRITE_EVERY_MS - performance.now()));
  };
  const raise = (percent: number, cap: number): void => {
    const p = Math.min(cap, Math.floor(percent));
    if (!(p > best)) return; // NaN too
    best = p;
    schedule();
  };

  return {
    async forEngine(engine, model, mode) {
      if (engine.capabilities.reportsProgress) return { report: (f) => raise(f * 100, REPORTED_CAP), end: () => undefined };
      const history = durationHistory(deps);
      await history.loaded();
      const expected = history.engineExpectedMs(engine.name, model, mode);
      if (expected === null || expected <= 0) return { report: (f) => raise(f * 100, REPORTED_CAP), end: () => undefined };
      const started = performance.now();
      const tick = () => raise(((performance.now() - started) / expected) * 100, ESTIMATE_CAP);
      const every = setInterval(tick, WRITE_EVERY_MS);
      return { report: (f) => raise(f * 100, REPORTED_CAP), end: () => clearInterval(every) };
    },
    async close() {
      closed = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      await writing;
    },
  };
}
