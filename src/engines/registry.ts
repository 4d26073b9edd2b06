import type { GenerationType, Model, Strategy } from '../domain/models.js';
import type { Engine, SourceVideo } from './engine.js';

/**
 * Chooses the engine for a task. Routes per strategy are ordered lists; with no upstream
 * configured every strategy routes to the built-in local engine (docs/contract.md §6).
 */
export interface EngineRegistry {
  /**
   * Engines to try for this task, in order; empty when none can serve it. For an extension,
   * pass the source: an engine that cannot extend foreign videos is kept only when it can still
   * extend this one (its own video, still retained upstream).
   */
  routesFor(strategy: Strategy, model: Model, generationType: GenerationType, source?: SourceVideo | null, now?: number): Engine[];
  byName(name: string): Engine | undefined;
  /** Every engine on some route, once each. */
  all(): Engine[];
}

export function createEngineRegistry(routes: Record<Strategy, Engine[]>): EngineRegistry {
  const all = new Map<string, Engine>();
  for (const list of Object.values(routes)) for (const e of list) all.set(e.name, e);
  return {
    routesFor(strategy, model, generationType, source, now = Date.now()) {
      return routes[strategy].filter(
        (e) =>
          e.capabilities.models.includes(model) &&
          (model === 'veo-3-1-extend' || e.capabilities.generationTypes.includes(generationType)) &&
          (!source || e.capabilities.extendsForeignSources || (e.canExtend?.(source, now) ?? false)),
      );
    },
    byName: (name) => all.get(name),
    all: () => [...all.values()],
  };
}
