import type { TaskRow } from '../db/tasks-repo.js';
import { getUpstream } from '../db/upstream-repo.js';
import type { Strategy } from '../domain/models.js';
import type { UpstreamVideo } from '../engines/engine.js';
import type { Deps } from './deps.js';

/** The upstream handle of a finished task, when an upstream engine rendered it. */
export async function upstreamVideoOf(deps: Deps, task: TaskRow): Promise<UpstreamVideo | null> {
  const up = await getUpstream(deps.db, task.id);
  if (!up?.video || task.complete_time === null) return null;
  return { engine: up.engine, handle: up.video, completedAt: Number(task.complete_time) };
}

/**
 * Whether some engine on the strategy's route can still extend `source` (docs/gemini.md): the
 * local engine extends anything; an upstream engine only its own videos while the upstream keeps
 * them. A route with no extend engine at all answers true: that is a configuration fault
 * (UPSTREAM_ERROR when the task runs), not a fault of the source.
 */
export async function extendableOnRoute(deps: Deps, strategy: Strategy, source: TaskRow, now: number): Promise<boolean> {
  if (deps.engines.routesFor(strategy, 'veo-3-1-extend', 'TEXT_2_VIDEO').length === 0) return true;
  const upstream = await upstreamVideoOf(deps, source);
  const video = {
    path: '',
    durationMs: Number(source.duration_ms),
    width: Number(source.width),
    height: Number(source.height),
    chainDepth: source.chain_depth,
    upstream,
  };
  return deps.engines.routesFor(strategy, 'veo-3-1-extend', 'TEXT_2_VIDEO', video, now).length > 0;
}
