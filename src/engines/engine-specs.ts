import { DEFAULT_FAL_ENDPOINTS, type FalEndpoints, falEndpoints } from './fal/fal-request.js';

/** One engine instance the operator configured; routes name instances (docs/gemini.md, docs/vertex.md). */
export type EngineSpec = { name: string; type: 'local' } | GeminiSpec | VertexSpec | ApixoSpec | FalSpec | ComfySpec;

/** The operator's own ComfyUI (docs/comfyui.md): its address is trusted, private or not. */
interface ComfySpec {
  name: string;
  type: 'comfyui';
  baseUrl: string;
  token: string | null;
  /** A directory of extra workflow templates (one per subdirectory); null = the shipped ones only. */
  workflows: string | null;
  /** The templates this instance uses, by name, first match per generation type; absent = every one marked `byDefault`. */
  templates?: string[];
  concurrency: number;
}

/** The engine types that are partner resellers: the default `value` route (docs/partners.md). */
export const PARTNER_TYPES: ReadonlySet<EngineSpec['type']> = new Set(['apixo', 'fal']);

/** fal.ai's queue API serving Veo 3.1. */
interface FalSpec {
  name: string;
  type: 'fal';
  apiKey: string;
  baseUrl: string;
  /** Endpoint per `<mode>/<kind>`, the defaults with the operator's overrides. */
  endpoints: FalEndpoints;
  allowPrivate: boolean;
}

/** Any APIXO-compatible API: APIXO itself, a reseller with its shape, another Longshot. */
interface ApixoSpec {
  name: string;
  type: 'apixo';
  /** Normalised to end in `/api/v1`. */
  baseUrl: string;
  apiKey: string;
  /** Lets the upstream (and its result URLs) be on a private or loopback address. */
  allowPrivate: boolean;
  /** How long the upstream extends its own task by its id (APIXO: result URLs live 24 h). */
  extendWindowHours: number;
}

interface GeminiSpec {
  name: string;
  type: 'gemini';
  apiKey: string;
  baseUrl: string;
  modelFast: string;
  modelQuality: string;
}

interface VertexSpec {
  name: string;
  type: 'vertex';
  project: string;
  location: string;
  /** A service-account key file; read (and checked) when the service starts. */
  credentialsFile: string;
  modelFast: string;
  modelQuality: string;
  baseUrl: string;
  /** `gs://bucket/prefix` for results; null = inline in the operation. */
  storageUri: string | null;
  storageBaseUrl: string;
}

/** The settings of the built-in `gemini` instance; extra instances inherit what they leave out. */
export interface GeminiDefaults {
  apiKey: string | null;
  baseUrl: string;
  modelFast: string;
  modelQuality: string;
}

/** The settings of the built-in `vertex` instance (it exists when `project` is set); extra instances inherit. */
export interface VertexDefaults {
  project: string | null;
  location: string;
  credentialsFile: string | null;
  modelFast: string;
  modelQuality: string;
  /** Explicit endpoint (LONGSHOT_VERTEX_BASE_URL); null = the location's own. */
  baseUrl: string | null;
  storageUri: string | null;
  storageBaseUrl: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const LOCATION = /^(global|[a-z]+-[a-z]+[0-9]+)$/;
const GCS_URI = /^gs:\/\/[a-z0-9][a-z0-9._-]{1,220}(\/.*)?$/;
/** The settings each type takes, and the JSON type of each (a misspelt key or a wrong type is an error). */
const KEYS: Record<Exclude<EngineSpec['type'], 'local'>, Record<string, 'string' | 'boolean' | 'number' | 'object' | 'array'>> = {
  gemini: { apiKey: 'string', baseUrl: 'string', modelFast: 'string', modelQuality: 'string' },
  vertex: {
    project: 'string',
    location: 'string',
    credentialsFile: 'string',
    modelFast: 'string',
    modelQuality: 'string',
    baseUrl: 'string',
    storageUri: 'string',
    storageBaseUrl: 'string',
  },
  apixo: { baseUrl: 'string', apiKey: 'string', allowPrivate: 'boolean', extendWindowHours: 'number' },
  fal: { apiKey: 'string', baseUrl: 'string', models: 'object', allowPrivate: 'boolean' },
  comfyui: { baseUrl: 'string', token: 'string', workflows: 'string', templates: 'array', concurrency: 'number' },
};

/** Vertex AI's regional endpoint (`global` has none of its own). */
function vertexBaseUrl(location: string): string {
  return location === 'global' ? 'https://aiplatform.googleapis.com' : `https://${location}-aiplatform.googleapis.com`;
}

/** Checks the Vertex settings that are the same for the built-in and extra instances. */
function checkVertex(label: string, v: Omit<VertexSpec, 'type' | 'name'>): string | null {
  if (!LOCATION.test(v.location)) return `${label}: location "${v.location}" is not a Vertex AI location such as us-central1`;
  if (!/^https?:\/\//.test(v.baseUrl)) return `${label}: baseUrl must be an http(s) URL`;
  if (!/^https?:\/\//.test(v.storageBaseUrl)) return `${label}: storageBaseUrl must be an http(s) URL`;
  if (v.storageUri !== null && !GCS_URI.test(v.storageUri)) return `${label}: storageUri must look like gs://bucket/prefix`;
  return null;
}

const trimSlash = (u: string): string => u.replace(/\/+$/, '');

/** `https://host` or `https://host/api/v1` → `https://host/api/v1`. */
function apixoBaseUrl(raw: string): string {
  const trimmed = trimSlash(raw.trim());
  return /\/api\/v1$/.test(trimmed) ? trimmed : `${trimmed}/api/v1`;
}

/**
 * The engine instances: `local` always; `gemini` when a key is set; `vertex` when a project is
 * set; `fal` when FAL_KEY is set; plus those of `LONGSHOT_ENGINES`, a JSON object `{"name":
 * {"type": "gemini" | "vertex" | "apixo" | "fal" | "comfyui", …}}` whose keys are checked exactly (a
 * misspelt key is an error, not a silent default).
 */
export function parseEngineSpecs(raw: string | undefined, gemini: GeminiDefaults, vertex?: VertexDefaults, falKey?: string | null): Parsed<EngineSpec[]> {
  const specs: EngineSpec[] = [{ name: 'local', type: 'local' }];
  if (gemini.apiKey)
    specs.push({
      name: 'gemini',
      type: 'gemini',
      apiKey: gemini.apiKey,
      baseUrl: gemini.baseUrl,
      modelFast: gemini.modelFast,
      modelQuality: gemini.modelQuality,
    });
  if (vertex?.project) {
    if (!vertex.credentialsFile)
      return {
        ok: false,
        error: 'needs a service-account key for the vertex engine: set GOOGLE_APPLICATION_CREDENTIALS=/path/key.json (LONGSHOT_VERTEX_PROJECT is set)',
      };
    const spec: VertexSpec = {
      name: 'vertex',
      type: 'vertex',
      project: vertex.project,
      location: vertex.location,
      credentialsFile: vertex.credentialsFile,
      modelFast: vertex.modelFast,
      modelQuality: vertex.modelQuality,
      baseUrl: trimSlash(vertex.baseUrl ?? vertexBaseUrl(vertex.location)),
      storageUri: vertex.storageUri,
      storageBaseUrl: trimSlash(vertex.storageBaseUrl),
    };
    const bad = checkVertex('the vertex engine (LONGSHOT_VERTEX_*)', spec);
    if (bad) return { ok: false, error: bad };
    specs.push(spec);
  }
  // FAL_KEY, the variable fal's own clients read, makes the built-in `fal` instance.
  if (falKey) specs.push({ name: 'fal', type: 'fal', apiKey: falKey, baseUrl: FAL_QUEUE_URL, endpoints: { ...DEFAULT_FAL_ENDPOINTS }, allowPrivate: false });
  if (!raw?.trim()) return { ok: true, value: specs };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, error: 'is not JSON: use {"name": {"type": "gemini", "baseUrl": "https://…"}}' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { ok: false, error: 'must be a JSON object of engine name → settings' };
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (!NAME.test(name)) return { ok: false, error: `engine name "${name}" must be lowercase letters, digits, - or _ (at most 32)` };
    if (specs.some((s) => s.name === name)) return { ok: false, error: `engine name "${name}" is built in or repeated` };
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, error: `engine "${name}" must be an object of settings` };
    const v = value as Record<string, unknown>;
    const type = v.type;
    if (typeof type !== 'string' || !(type in KEYS)) return { ok: false, error: `engine "${name}" needs "type": one of ${Object.keys(KEYS).join(', ')}` };
    const allowed = KEYS[type as keyof typeof KEYS];
    for (const [k, x] of Object.entries(v)) {
      if (k === 'type') continue;
      const want = allowed[k];
      if (!want) return { ok: false, error: `engine "${name}" has an unknown setting "${k}" (a ${type} engine takes ${Object.keys(allowed).join(', ')})` };
      const fits = want === 'array' ? Array.isArray(x) : typeof x === want && x !== null && !(want === 'object' && Array.isArray(x));
      if (!fits) return { ok: false, error: `engine "${name}": "${k}" must be a${want === 'object' ? 'n' : ''} ${want}` };
    }
    const str = (k: string, fallback: string | null): string | null =>
      typeof v[k] === 'string' && (v[k] as string).trim() ? (v[k] as string).trim() : fallback;
    const parsed =
      type === 'gemini'
        ? geminiSpec(name, str, gemini)
        : type === 'vertex'
          ? vertexSpec(name, str, vertex)
          : type === 'apixo'
            ? apixoSpec(name, v, str)
            : type === 'comfyui'
              ? comfySpec(name, v, str)
              : falSpec(name, v, str);
    if (!parsed.ok) return parsed;
    specs.push(parsed.value);
  }
  return { ok: true, value: specs };
}

type Str = (k: string, fallback: string | null) => string | null;

function geminiSpec(name: string, str: Str, gemini: GeminiDefaults): Parsed<GeminiSpec> {
  const apiKey = str('apiKey', gemini.apiKey);
  if (!apiKey) return { ok: false, error: `engine "${name}" needs "apiKey" (or set GEMINI_API_KEY)` };
  const baseUrl = trimSlash(str('baseUrl', gemini.baseUrl)!);
  if (!/^https?:\/\//.test(baseUrl)) return { ok: false, error: `engine "${name}": baseUrl must be an http(s) URL` };
  return {
    ok: true,
    value: { name, type: 'gemini', apiKey, baseUrl, modelFast: str('modelFast', gemini.modelFast)!, modelQuality: str('modelQuality', gemini.modelQuality)! },
  };
}

function vertexSpec(name: string, str: Str, vertex: VertexDefaults | undefined): Parsed<VertexSpec> {
  const project = str('project', vertex?.project ?? null);
  if (!project) return { ok: false, error: `engine "${name}" needs "project" (or set LONGSHOT_VERTEX_PROJECT)` };
  const credentialsFile = str('credentialsFile', vertex?.credentialsFile ?? null);
  if (!credentialsFile) return { ok: false, error: `engine "${name}" needs "credentialsFile" (or set GOOGLE_APPLICATION_CREDENTIALS)` };
  const location = str('location', vertex?.location ?? 'us-central1')!;
  const spec: VertexSpec = {
    name,
    type: 'vertex',
    project,
    location,
    credentialsFile,
    modelFast: str('modelFast', vertex?.modelFast ?? VERTEX_MODEL_FAST)!,
    modelQuality: str('modelQuality', vertex?.modelQuality ?? VERTEX_MODEL_QUALITY)!,
    baseUrl: trimSlash(str('baseUrl', vertexBaseUrl(location))!),
    storageUri: str('storageUri', null),
    storageBaseUrl: trimSlash(str('storageBaseUrl', vertex?.storageBaseUrl ?? 'https://storage.googleapis.com')!),
  };
  const bad = checkVertex(`engine "${name}"`, spec);
  return bad ? { ok: false, error: bad } : { ok: true, value: spec };
}

function falSpec(name: string, v: Record<string, unknown>, str: Str): Parsed<FalSpec> {
  const apiKey = str('apiKey', null);
  if (!apiKey) return { ok: false, error: `engine "${name}" needs "apiKey": a fal key (id:secret)` };
  const baseUrl = trimSlash(str('baseUrl', FAL_QUEUE_URL)!);
  if (!/^https?:\/\/[^/]/.test(baseUrl)) return { ok: false, error: `engine "${name}": baseUrl must be an http(s) URL` };
  const endpoints = falEndpoints(v.models as Record<string, unknown> | undefined);
  if (!endpoints.ok) return { ok: false, error: `engine "${name}": ${endpoints.error}` };
  return { ok: true, value: { name, type: 'fal', apiKey, baseUrl, endpoints: endpoints.value, allowPrivate: v.allowPrivate === true } };
}

const FAL_QUEUE_URL = 'https://queue.fal.run';

function comfySpec(name: string, v: Record<string, unknown>, str: Str): Parsed<ComfySpec> {
  const baseUrl = str('baseUrl', null);
  if (!baseUrl || !/^https?:\/\/[^/]/.test(baseUrl))
    return { ok: false, error: `engine "${name}" needs "baseUrl": the ComfyUI server's http(s) URL, e.g. http://gpu-box:8188` };
  const concurrency = v.concurrency === undefined ? 1 : (v.concurrency as number);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)
    return { ok: false, error: `engine "${name}": "concurrency" must be a whole number from 1 to 64` };
  const templates = v.templates as unknown[] | undefined;
  if (templates !== undefined && (templates.length === 0 || !templates.every((x) => typeof x === 'string' && x.trim() !== '')))
    return { ok: false, error: `engine "${name}": "templates" must be a non-empty list of template names, e.g. ["ltxv-t2v"]` };
  return {
    ok: true,
    value: {
      name,
      type: 'comfyui',
      baseUrl: trimSlash(baseUrl),
      token: str('token', null),
      workflows: str('workflows', null),
      ...(templates ? { templates: (templates as string[]).map((x) => x.trim()) } : {}),
      concurrency,
    },
  };
}

function apixoSpec(name: string, v: Record<string, unknown>, str: Str): Parsed<ApixoSpec> {
  const baseUrl = str('baseUrl', null);
  if (!baseUrl || !/^https?:\/\/[^/]/.test(baseUrl))
    return { ok: false, error: `engine "${name}" needs "baseUrl": the upstream's http(s) URL, e.g. https://api.apixo.ai/api/v1` };
  const apiKey = str('apiKey', null);
  if (!apiKey) return { ok: false, error: `engine "${name}" needs "apiKey": a key of the upstream account` };
  const hours = v.extendWindowHours === undefined ? 24 : (v.extendWindowHours as number);
  if (!Number.isFinite(hours) || hours < 0 || hours > 24 * 365) return { ok: false, error: `engine "${name}": "extendWindowHours" must be between 0 and 8760` };
  return { ok: true, value: { name, type: 'apixo', baseUrl: apixoBaseUrl(baseUrl), apiKey, allowPrivate: v.allowPrivate === true, extendWindowHours: hours } };
}

/** Vertex AI's GA Veo 3.1 ids (docs/model-ids.md): the preview ids were retired there on 2026-04-02. */
export const VERTEX_MODEL_FAST = 'veo-3.1-fast-generate-001';
export const VERTEX_MODEL_QUALITY = 'veo-3.1-generate-001';
