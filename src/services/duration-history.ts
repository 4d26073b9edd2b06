import type { Db } from '../db/connect.js';
import { recentSuccessfulRuns } from '../db/engine-health-repo.js';
import type { Model, Strategy } from '../domain/models.js';
import type { Deps } from './deps.js';

/** How far back, and how many runs, the history looks at (docs/api.md, progress). */
const WINDOW_MS = 7 * 86_400_000;
const LOAD_LIMIT = 2000;
/** The median of this many newest runs per engine, model and mode. */
const SAMPLES = 20;
/** A read older than this starts a reload in the background (the caller gets the current one). */
const STALE_MS = 10_000;

/**
 * Recent successful durations of each engine for a model and mode (engine_runs), kept in memory
 * and reloaded in the background at most every 10 s, so the status poll reads it without a query.
 */
export interface DurationHistory {
  /**
   * The median duration (ms) of recent successful runs of `model`/`mode` on the first engine of
   * the task's route that has any; null without history.
   */
  expectedMs(provider: string, model: string, mode: string): number | null;
  /** The same for one engine (a worker estimating its own run). */
  engineExpectedMs(engine: string, model: string, mode: string): number | null;
  /** Reloads now (after this process logged a run); resolves once loaded. */
  refresh(): Promise<void>;
  /** Resolves once the history has been loaded at least once (a worker, before estimating). */
  loaded(): Promise<void>;
}

const histories = new WeakMap<Db, DurationHistory>();

/** The history of this database, made on first use (one per process and database). */
export function durationHistory(deps: Deps): DurationHistory {
  let h = histories.get(deps.db);
  if (h === undefined) {
    h = createDurationHistory(deps);
    histories.set(deps.db, h);
  }
  return h;
}

function median(sorted: number[]): number {
  return sorted[Math.ceil(sorted.length / 2) - 1]!;
}

function createDurationHistory(deps: Deps): DurationHistory {
  /** `engine|model|mode` → median ms. */
  let medians = new Map<string, number>();
  /** `provider|model` → the engine names of that route, in order (the registry is fixed). */
  const routes = new Map<string, string[]>();
  let loadedAt = Number.NEGATIVE_INFINITY;
  let running: Promise<void> | null = null;
  let queued: Promise<void> | null = null;

  const load = async (): Promise<void> => {
    const runs = await recentSuccessfulRuns(deps.db, deps.clock.now() - WINDOW_MS, LOAD_LIMIT);
    const by = new Map<string, number[]>();
    for (const r of runs) {
      const key = `${r.engine}|${r.model}|${r.mode}`;
      const list = by.get(key) ?? [];
      if (list.length < SAMPLES) list.push(r.latencyMs);
      by.set(key, list);
    }
    const next = new Map<string, number>();
    for (const [key, list] of by) next.set(key, median(list.sort((a, b) => a - b)));
    medians = next;
  };
  const start = (): Promise<void> => {
    const p: Promise<void> = load()
      .catch((err: unknown) => deps.log.warn({ err }, 'loading the engine run history failed'))
      .finally(() => {
        if (running === p) running = null;
      });
    running = p;
    return p;
  };
  /** A refresh asked for during a load runs once more after it, so it sees what was just logged. */
  const refresh = (): Promise<void> => {
    loadedAt = performance.now();
    if (queued !== null) return queued;
    if (running === null) return start();
    queued = running.then(() => {
      queued = null;
      return start();
    });
    return queued;
  };
  const routeOf = (provider: string, model: string): string[] => {
    const key = `${provider}|${model}`;
    let names = routes.get(key);
    if (names === undefined) {
      // TEXT_2_VIDEO: the status row does not carry the generation type; every engine serves it.
      try {
        names = deps.engines.routesFor(provider as Strategy, model as Model, 'TEXT_2_VIDEO').map((e) => e.name);
      } catch {
        names = []; // a provider the route table does not know (submit validates it): no estimate, never a failed read
      }
      routes.set(key, names);
    }
    return names;
  };
  const fresh = (): void => {
    if (performance.now() - loadedAt > STALE_MS) void refresh();
  };
  return {
    expectedMs(provider, model, mode) {
      fresh();
      for (const engine of routeOf(provider, model)) {
        const ms = medians.get(`${engine}|${model}|${mode}`);
        if (ms !== undefined) return ms;
      }
      return null;
    },
    engineExpectedMs(engine, model, mode) {
      fresh();
      return medians.get(`${engine}|${model}|${mode}`) ?? null;
    },
    refresh,
    loaded: () => queued ?? running ?? (loadedAt === Number.NEGATIVE_INFINITY ? refresh() : Promise.resolve()),
  };
}
