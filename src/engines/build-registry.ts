import { type Config, ConfigError } from '../config.js';
import { STRATEGIES, type Strategy } from '../domain/models.js';
import { createApixoEngine } from './apixo/apixo-engine.js';
import { createComfyEngine } from './comfyui/comfyui-engine.js';
import { BUILT_IN_TEMPLATES_DIR, loadTemplates, type Template, TemplateError } from './comfyui/template.js';
import type { Engine } from './engine.js';
import type { EngineSpec } from './engine-specs.js';
import { createFalEngine } from './fal/fal-engine.js';
import { createGeminiEngine } from './gemini/gemini-engine.js';
import { DEFAULT_X264_THREADS } from './local/local-engine.js';
import { createEngineRegistry, type EngineRegistry } from './registry.js';
import { loadServiceAccount, type ServiceAccount, ServiceAccountError } from './vertex/service-account.js';
import { createVertexEngine } from './vertex/vertex-engine.js';

/**
 * The engine instances of the configuration (`config.engineSpecs`) wired into its route table
 * (`config.routes`, LONGSHOT_ROUTES). `local` is built by the caller, which owns its paths.
 * A Vertex instance's key file is read here: a missing or unusable key stops the start.
 */
export function buildEngineRegistry(config: Config, local: Engine, tools: { ffmpegPath: string; fontPath: string }): EngineRegistry {
  const instances = new Map<string, Engine>([['local', local]]);
  const common = {
    poll: { denseMs: config.upstream.pollMs, sparseMaxMs: config.upstream.pollMaxMs },
    retryMs: config.upstream.retryMs,
    retries: config.upstream.retries,
    deadlineMs: config.upstream.deadlineMs,
    hardLimitMs: config.upstream.hardLimitMs,
    ffmpegPath: tools.ffmpegPath,
    fontPath: tools.fontPath,
  };
  for (const spec of config.engineSpecs) {
    switch (spec.type) {
      case 'local':
        break;
      case 'gemini':
        instances.set(spec.name, createGeminiEngine({ ...spec, ...common }));
        break;
      case 'vertex': {
        let serviceAccount: ServiceAccount;
        try {
          serviceAccount = loadServiceAccount(spec.credentialsFile);
        } catch (err) {
          if (!(err instanceof ServiceAccountError)) throw err;
          const setting = spec.name === 'vertex' ? 'GOOGLE_APPLICATION_CREDENTIALS' : `"credentialsFile" of engine ${spec.name} in LONGSHOT_ENGINES`;
          throw new ConfigError(`${setting}: ${err.message}`);
        }
        instances.set(spec.name, createVertexEngine({ ...spec, ...common, serviceAccount, threads: DEFAULT_X264_THREADS }));
        break;
      }
      case 'apixo':
        instances.set(spec.name, createApixoEngine({ ...spec, ...common, extendWindowMs: spec.extendWindowHours * 3_600_000 }));
        break;
      case 'fal':
        instances.set(spec.name, createFalEngine({ ...spec, ...common, threads: DEFAULT_X264_THREADS }));
        break;
      case 'comfyui':
        instances.set(spec.name, createComfyEngine({ ...spec, ...common, templates: comfyTemplates(spec), threads: DEFAULT_X264_THREADS }));
        break;
    }
  }
  const routes = {} as Record<Strategy, Engine[]>;
  for (const s of STRATEGIES) {
    // Names were checked when the configuration was loaded.
    routes[s] = config.routes[s].map((name) => instances.get(name)).filter((e): e is Engine => e !== undefined);
  }
  return createEngineRegistry(routes);
}

/**
 * The shipped workflow templates, with the operator's (`workflows`) added or replacing them by name;
 * of those, the ones the engine names in `templates` (in that order), else every `byDefault` one.
 * A bad template or an unknown name stops the start.
 */
function comfyTemplates(spec: Extract<EngineSpec, { type: 'comfyui' }>): Template[] {
  try {
    const all = loadTemplates(BUILT_IN_TEMPLATES_DIR);
    if (spec.workflows) for (const [name, t] of loadTemplates(spec.workflows)) all.set(name, t);
    if (!spec.templates) return [...all.values()].filter((t) => t.byDefault);
    return spec.templates.map((name) => {
      const t = all.get(name);
      if (!t) throw new TemplateError(`"templates" names ${name}, which is not a workflow template (there are ${[...all.keys()].join(', ')})`);
      return t;
    });
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    throw new ConfigError(`engine ${spec.name} in LONGSHOT_ENGINES: ${err.message}`);
  }
}
