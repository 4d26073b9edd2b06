import type { Engine } from '../engines/engine.js';
import type { EngineHealth } from '../engines/health.js';

/** A route's engines in the order to try them for one task, and the slot taken for the first. */
export interface EngineChoice {
  engines: Engine[];
  /** Gives back a slot reserved but not used (a no-op once the engine's render claimed it). */
  release(): void;
}

/**
 * Spreads a route's tasks over engines with room (docs/comfyui.md, several instances). The
 * route's order stays, except that an engine the route would take but whose slots are all taken
 * is passed over for the first later one with room, which then goes first; the others follow in
 * route order, so failover on UPSTREAM_ERROR still reaches every engine. Only engines with
 * `reserve` (a counted slot) take part: the search stops at the first admitted engine without
 * it, so a route of such engines keeps its order exactly. When no engine has room the order is
 * the route's: the task waits on the first, as before.
 *
 * The breaker is only asked `wouldAdmit`: admitting takes a half-open breaker's probe, and the
 * caller admits each engine as it tries it, in this same tick for the first. An engine the route
 * would pass over (unavailable, breaker open, another task probing it) is passed over here too;
 * one it would probe is taken like any other, so recovery probes come as often as before. The
 * slot is reserved while choosing, not when the render starts: worker loops of this process
 * choose at once and the render starts only after a database write, so a mere look would let
 * them all pick the same free engine.
 */
export function chooseEngines(engines: Engine[], taskId: string, health: EngineHealth, now: number): EngineChoice {
  let passedOver = false;
  for (const [i, engine] of engines.entries()) {
    if (!health.wouldAdmit(engine.name, now)) continue;
    // Busy slots move a task only to another engine that counts its own: a full GPU never sends
    // its tasks on to an engine without slots (a paid upstream, say) before failover would. An
    // operator who wants overflow names such a route for it; a wait is free, a Veo task is not.
    if (!engine.reserve) break;
    const release = engine.reserve(taskId);
    if (release) return { engines: passedOver ? [engine, ...engines.filter((_, j) => j !== i)] : engines, release };
    passedOver = true;
  }
  return { engines, release: () => undefined };
}
