import type { ModelCheck, RenderOutcome } from './engine.js';

/**
 * Each engine instance's standing in this process: whether its models and credentials are usable
 * (model checks, and refusals seen on real tasks), and a circuit breaker over consecutive
 * UPSTREAM_ERRORs (docs/operations.md, engine health). Routes ask `admit` before sending a task
 * to an engine; run-task reports every outcome with `record`.
 *
 * Per process, like a proxy's breaker: each worker process learns on its own, and the last
 * change is written to the database (`onChange`) so `longshot engines` and the health check of
 * any process can show it.
 */
export interface EngineStanding {
  engine: string;
  available: boolean;
  /** Why the engine is unavailable (the upstream's words), and what the operator can do. */
  reason: string | null;
  fix: string | null;
  /** The same, in words safe to show a client (no account detail). */
  summary: string | null;
  consecutiveFailures: number;
  /** The breaker is open until then; after it, one task probes the engine. */
  openUntil: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
  /** The last model check that reached the upstream. */
  checkedAt: number | null;
}

/** Whether to send a task to an engine; a refusal says why, for the operator and (`summary`) for the client. */
type Admission = { admit: true; probe: boolean } | { admit: false; why: string; summary: string };

export interface BreakerSettings {
  /** Consecutive UPSTREAM_ERRORs that open the breaker. */
  failures: number;
  cooldownMs: number;
  /** A probe that has not reported back by then (its worker died) lets another task probe. */
  probeTimeoutMs: number;
  /**
   * An engine made unavailable by a task's refusal (a key refused, a 402) lets one task try it
   * again after this long: not every engine has a model check that could bring it back.
   */
  recheckMs: number;
}

export interface EngineHealth {
  admit(engine: string, now: number): Admission;
  /** What `admit` would answer now, without taking the probe: for choosing among a route's engines (services/engine-choice.ts). */
  wouldAdmit(engine: string, now: number): boolean;
  /**
   * An engine's outcome for one task; `aborted` when the run was stopped (shutdown, lost lease).
   * `probe`: the task was admitted as the breaker's probe. Only the probe's own outcome frees the
   * probe slot, so tasks admitted before the breaker opened cannot let more probes in.
   */
  record(engine: string, outcome: RenderOutcome | 'aborted', now: number, probe?: boolean): void;
  /** The result of a model check; `unknown` (upstream unreachable) changes nothing but the log. */
  checked(engine: string, check: ModelCheck, now: number): void;
  standing(engine: string): EngineStanding;
  all(): EngineStanding[];
}

interface State extends EngineStanding {
  probeStartedAt: number | null;
  /** What made the engine unavailable, and when: a task's refusal is retried, a model check's is not. */
  unavailableFrom: 'check' | 'task' | null;
  unavailableAt: number | null;
}

export function createEngineHealth(
  engines: readonly string[],
  settings: BreakerSettings,
  onChange: (s: EngineStanding) => void = () => undefined,
): EngineHealth {
  const states = new Map<string, State>();
  const fresh = (engine: string): State => ({
    engine,
    available: true,
    reason: null,
    fix: null,
    summary: null,
    consecutiveFailures: 0,
    openUntil: null,
    lastError: null,
    lastErrorAt: null,
    checkedAt: null,
    probeStartedAt: null,
    unavailableFrom: null,
    unavailableAt: null,
  });
  for (const e of engines) states.set(e, fresh(e));
  const get = (engine: string): State => {
    let s = states.get(engine);
    if (!s) {
      s = fresh(engine);
      states.set(engine, s);
    }
    return s;
  };
  const publish = (s: State): void => onChange(view(s));

  /** `take`: a probe admitted takes the probe slot (admit); without it nothing changes (wouldAdmit). */
  function admission(engine: string, now: number, take: boolean): Admission {
    const s = get(engine);
    if (!s.available) {
      const probeFree = s.probeStartedAt === null || now >= s.probeStartedAt + settings.probeTimeoutMs;
      if (s.unavailableFrom === 'task' && now >= (s.unavailableAt ?? 0) + settings.recheckMs && probeFree) {
        if (take) s.probeStartedAt = now;
        return { admit: true, probe: true };
      }
      return {
        admit: false,
        why: `${engine} is unavailable: ${s.reason ?? 'unknown reason'}`,
        summary: `${engine} is unavailable (${s.summary ?? 'see the operator'})`,
      };
    }
    if (s.openUntil === null) return { admit: true, probe: false };
    const failing = `${engine} failed ${s.consecutiveFailures} times in a row`;
    if (now < s.openUntil) {
      const until = new Date(s.openUntil).toISOString();
      return {
        admit: false,
        why: `${failing}; skipped until ${until} (last: ${s.lastError ?? 'unknown'})`,
        summary: `${failing} and is skipped until ${until}`,
      };
    }
    if (s.probeStartedAt !== null && now < s.probeStartedAt + settings.probeTimeoutMs) {
      return {
        admit: false,
        why: `${failing}; another task is probing it (last: ${s.lastError ?? 'unknown'})`,
        summary: `${failing}; another task is probing it`,
      };
    }
    if (take) s.probeStartedAt = now;
    return { admit: true, probe: true };
  }

  return {
    admit: (engine, now) => admission(engine, now, true),
    wouldAdmit: (engine, now) => admission(engine, now, false).admit,
    record(engine, outcome, now, probe = false) {
      const s = get(engine);
      if (probe) s.probeStartedAt = null;
      if (outcome === 'aborted') return;
      if (!outcome.ok && outcome.failCode === 'UPSTREAM_ERROR') {
        s.consecutiveFailures++;
        s.lastError = outcome.engineUnavailable ?? outcome.message;
        s.lastErrorAt = now;
        if (outcome.engineUnavailable) {
          s.available = false;
          s.reason = outcome.engineUnavailable;
          s.summary = outcome.message;
          s.fix = null;
          s.unavailableFrom = 'task';
          s.unavailableAt = now;
        }
        // A failed probe reopens at once; otherwise the breaker opens at the threshold.
        if (probe || s.consecutiveFailures >= settings.failures) s.openUntil = now + settings.cooldownMs;
        publish(s);
        return;
      }
      // A timeout says nothing either way about the upstream's health; anything else is an answer.
      if (!outcome.ok && outcome.failCode === 'TIMEOUT') return;
      const restored = !s.available && s.unavailableFrom === 'task';
      if (s.consecutiveFailures === 0 && s.openUntil === null && !restored) return;
      // The upstream answered: any task's answer (not only the probe's) closes the breaker, and
      // undoes an unavailability that a task's refusal caused (a model check's stays until the next check).
      s.consecutiveFailures = 0;
      s.openUntil = null;
      s.probeStartedAt = null;
      if (restored) {
        s.available = true;
        s.reason = s.fix = s.summary = null;
        s.unavailableFrom = s.unavailableAt = null;
      }
      publish(s);
    },
    checked(engine, check, now) {
      const s = get(engine);
      if (check.state === 'unknown') return;
      const was = s.available;
      s.checkedAt = now;
      if (check.state === 'ok') {
        s.available = true;
        s.reason = null;
        s.fix = null;
        s.summary = null;
        s.unavailableFrom = s.unavailableAt = null;
      } else {
        s.available = false;
        s.reason = check.reason;
        s.fix = check.fix;
        s.summary = check.summary;
        s.unavailableFrom = 'check';
        s.unavailableAt = now;
      }
      if (was !== s.available || !s.available || check.state === 'ok') publish(s);
    },
    standing: (engine) => view(get(engine)),
    all: () => [...states.values()].map(view),
  };
}

function view(s: State): EngineStanding {
  const { probeStartedAt: _probe, unavailableFrom: _from, unavailableAt: _at, ...standing } = s;
  return { ...standing };
}
