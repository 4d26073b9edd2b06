import type { Config } from '../config.js';
import { STRATEGIES, type Strategy } from '../domain/models.js';
import type { Engine } from './engine.js';
import { createGeminiEngine } from './gemini/gemini-engine.js';
import { createEngineRegistry, type EngineRegistry } from './registry.js';

/**
 * The engine instances of the configuration (`config.engineSpecs`) wired into its route table
 * (`config.routes`, LONGSHOT_ROUTES). `local` is built by the caller, which owns its paths.
 */
export function buildEngineRegistry(config: Config, local: Engine, tools: { ffmpegPath: string; fontPath: string }): EngineRegistry {
  const instances = new Map<string, Engine>([['local', local]]);
  for (const spec of config.engineSpecs) {
    if (spec.type !== 'gemini') continue;
    instances.set(spec.name, createGeminiEngine({
      ...spec,
      pollMs: config.geminiPollMs,
      pollMaxMs: config.geminiPollMaxMs,
      retryMs: config.geminiRetryMs,
      retries: config.geminiRetries,
      deadlineMs: config.geminiDeadlineMs,
      ffmpegPath: tools.ffmpegPath,
      fontPath: tools.fontPath,
    }));
  }
  const routes = {} as Record<Strategy, Engine[]>;
  for (const s of STRATEGIES) {
    // Names were checked when the configuration was loaded.
    routes[s] = config.routes[s].map((name) => instances.get(name)).filter((e): e is Engine => e !== undefined);
  }
  return createEngineRegistry(routes);
}
