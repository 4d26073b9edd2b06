import type { Logger } from 'pino';
import type { Engine, ModelCheck } from './engine.js';
import type { EngineHealth } from './health.js';

/** While an engine is unavailable its check runs this often, so a fixed key or model is noticed soon. */
const RECHECK_UNAVAILABLE_MS = 5 * 60_000;
/** One check of one engine may take this long. */
const CHECK_TIMEOUT_MS = 30_000;

export interface ModelChecks {
  /** Resolves after every engine's check of this round (each bounded by a timeout). */
  first: Promise<void>;
  stop(): void;
}

/**
 * Runs every upstream engine's model check at start and then every `everyMs` (every 5 minutes
 * while the engine is unavailable), feeding `health`. A change to unavailable is logged once, as
 * an error, with the upstream's words and the fix; the return to available once, as info.
 */
export function startModelChecks(engines: readonly Engine[], health: EngineHealth, log: Logger, opts: { everyMs: number; now: () => number }): ModelChecks {
  const timers = new Map<string, NodeJS.Timeout>();
  let stopped = false;
  const controller = new AbortController();

  async function checkOne(engine: Engine): Promise<void> {
    const before = health.standing(engine.name).available;
    const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(CHECK_TIMEOUT_MS)]);
    let check: ModelCheck;
    try {
      check = await engine.checkModels!(signal);
    } catch (err) {
      if (stopped) return;
      check = { state: 'unknown' as const, reason: (err as Error).message };
    }
    health.checked(engine.name, check, opts.now());
    const after = health.standing(engine.name);
    if (check.state === 'unknown') log.warn({ engine: engine.name, reason: check.reason }, `engine ${engine.name}: model check could not reach the upstream`);
    else if (before && !after.available) {
      log.error({ engine: engine.name, reason: after.reason, fix: after.fix }, `engine ${engine.name} is UNAVAILABLE: ${after.reason} — fix: ${after.fix}`);
    } else if (!before && after.available) log.info({ engine: engine.name }, `engine ${engine.name} is available again`);
    if (stopped) return;
    const next = after.available ? opts.everyMs : Math.min(opts.everyMs, RECHECK_UNAVAILABLE_MS);
    const timer = setTimeout(() => void checkOne(engine), next);
    timer.unref();
    timers.set(engine.name, timer);
  }

  const checkable = engines.filter((e) => typeof e.checkModels === 'function');
  const first = Promise.all(checkable.map((e) => checkOne(e))).then(() => undefined);
  return {
    first,
    stop() {
      stopped = true;
      controller.abort();
      for (const t of timers.values()) clearTimeout(t);
    },
  };
}
