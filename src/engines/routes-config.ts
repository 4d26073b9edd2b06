import { STRATEGIES, type Strategy } from '../domain/models.js';

/** One engine instance the operator configured; routes name instances (docs/gemini.md, docs/vertex.md). */
export type EngineSpec =
  | { name: string; type: 'local' }
  | GeminiSpec
  | VertexSpec;

export interface GeminiSpec {
  name: string;
  type: 'gemini';
  apiKey: string;
  baseUrl: string;
  modelFast: string;
  modelQuality: string;
}

export interface VertexSpec {
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

type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const LOCATION = /^(global|[a-z]+-[a-z]+[0-9]+)$/;
const GCS_URI = /^gs:\/\/[a-z0-9][a-z0-9._-]{1,220}(\/.*)?$/;
const GEMINI_KEYS = ['type', 'apiKey', 'baseUrl', 'modelFast', 'modelQuality'];
const VERTEX_KEYS = ['type', 'project', 'location', 'credentialsFile', 'modelFast', 'modelQuality', 'baseUrl', 'storageUri', 'storageBaseUrl'];

/** Vertex AI's regional endpoint (`global` has none of its own). */
export function vertexBaseUrl(location: string): string {
  return location === 'global' ? 'https://aiplatform.googleapis.com' : `https://${location}-aiplatform.googleapis.com`;
}

/** Checks the Vertex settings that are the same for the built-in and extra instances. */
export function checkVertex(label: string, v: Omit<VertexSpec, 'type' | 'name'>): string | null {
  if (!LOCATION.test(v.location)) return `${label}: location "${v.location}" is not a Vertex AI location such as us-central1`;
  if (!/^https?:\/\//.test(v.baseUrl)) return `${label}: baseUrl must be an http(s) URL`;
  if (!/^https?:\/\//.test(v.storageBaseUrl)) return `${label}: storageBaseUrl must be an http(s) URL`;
  if (v.storageUri !== null && !GCS_URI.test(v.storageUri)) return `${label}: storageUri must look like gs://bucket/prefix`;
  return null;
}

const trimSlash = (u: string): string => u.replace(/\/+$/, '');

/**
 * The engine instances: `local` always; `gemini` when a key is set; `vertex` when a project is
 * set; plus those of `LONGSHOT_ENGINES`, a JSON object `{"name": {"type": "gemini" | "vertex",
 * …}}` whose keys are checked exactly (a misspelt key is an error, not a silent default).
 */
export function parseEngineSpecs(raw: string | undefined, gemini: GeminiDefaults, vertex?: VertexDefaults): Parsed<EngineSpec[]> {
  const specs: EngineSpec[] = [{ name: 'local', type: 'local' }];
  if (gemini.apiKey) specs.push({ name: 'gemini', type: 'gemini', apiKey: gemini.apiKey, baseUrl: gemini.baseUrl, modelFast: gemini.modelFast, modelQuality: gemini.modelQuality });
  if (vertex?.project) {
    if (!vertex.credentialsFile) return { ok: false, error: 'needs a service-account key for the vertex engine: set GOOGLE_APPLICATION_CREDENTIALS=/path/key.json (LONGSHOT_VERTEX_PROJECT is set)' };
    const spec: VertexSpec = {
      name: 'vertex', type: 'vertex', project: vertex.project, location: vertex.location, credentialsFile: vertex.credentialsFile,
      modelFast: vertex.modelFast, modelQuality: vertex.modelQuality, baseUrl: trimSlash(vertex.baseUrl ?? vertexBaseUrl(vertex.location)),
      storageUri: vertex.storageUri, storageBaseUrl: trimSlash(vertex.storageBaseUrl),
    };
    const bad = checkVertex('the vertex engine (LONGSHOT_VERTEX_*)', spec);
    if (bad) return { ok: false, error: bad };
    specs.push(spec);
  }
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
    if (v.type !== 'gemini' && v.type !== 'vertex') return { ok: false, error: `engine "${name}" needs "type": "gemini" or "vertex"` };
    const allowed = v.type === 'gemini' ? GEMINI_KEYS : VERTEX_KEYS;
    const unknown = Object.keys(v).find((k) => !allowed.includes(k));
    if (unknown) return { ok: false, error: `engine "${name}" has an unknown setting "${unknown}" (a ${v.type} engine takes ${allowed.filter((k) => k !== 'type').join(', ')})` };
    const wrong = Object.entries(v).find(([, x]) => typeof x !== 'string');
    if (wrong) return { ok: false, error: `engine "${name}": "${wrong[0]}" must be a string` };
    const str = (k: string, fallback: string | null): string | null => (typeof v[k] === 'string' && (v[k] as string).trim() ? (v[k] as string).trim() : fallback);
    if (v.type === 'gemini') {
      const apiKey = str('apiKey', gemini.apiKey);
      if (!apiKey) return { ok: false, error: `engine "${name}" needs "apiKey" (or set GEMINI_API_KEY)` };
      const baseUrl = trimSlash(str('baseUrl', gemini.baseUrl)!);
      if (!/^https?:\/\//.test(baseUrl)) return { ok: false, error: `engine "${name}": baseUrl must be an http(s) URL` };
      specs.push({ name, type: 'gemini', apiKey, baseUrl, modelFast: str('modelFast', gemini.modelFast)!, modelQuality: str('modelQuality', gemini.modelQuality)! });
      continue;
    }
    const project = str('project', vertex?.project ?? null);
    if (!project) return { ok: false, error: `engine "${name}" needs "project" (or set LONGSHOT_VERTEX_PROJECT)` };
    const credentialsFile = str('credentialsFile', vertex?.credentialsFile ?? null);
    if (!credentialsFile) return { ok: false, error: `engine "${name}" needs "credentialsFile" (or set GOOGLE_APPLICATION_CREDENTIALS)` };
    const location = str('location', vertex?.location ?? 'us-central1')!;
    const spec: VertexSpec = {
      name, type: 'vertex', project, location, credentialsFile,
      modelFast: str('modelFast', vertex?.modelFast ?? VERTEX_MODEL_FAST)!,
      modelQuality: str('modelQuality', vertex?.modelQuality ?? VERTEX_MODEL_QUALITY)!,
      baseUrl: trimSlash(str('baseUrl', vertexBaseUrl(location))!),
      storageUri: str('storageUri', null),
      storageBaseUrl: trimSlash(str('storageBaseUrl', vertex?.storageBaseUrl ?? 'https://storage.googleapis.com')!),
    };
    const bad = checkVertex(`engine "${name}"`, spec);
    if (bad) return { ok: false, error: bad };
    specs.push(spec);
  }
  return { ok: true, value: specs };
}

/** Vertex AI's GA Veo 3.1 ids (docs/model-ids.md): the preview ids were retired there on 2026-04-02. */
export const VERTEX_MODEL_FAST = 'veo-3.1-fast-generate-001';
export const VERTEX_MODEL_QUALITY = 'veo-3.1-generate-001';

/**
 * The route table: `LONGSHOT_ROUTES="official=gemini;value=partner;auto=value,official"`. A list
 * names engine instances or other strategies (expanded in place); an empty list (`value=`)
 * routes nothing. Strategies left out take the defaults: with an upstream engine,
 * official = the built-in vertex and gemini instances (in that order; else every upstream),
 * value = [] (no partner reseller yet), auto = value then official;
 * with none, every strategy → [local] (CONTRACT.md §6).
 */
export function parseRoutes(raw: string | undefined, specs: readonly EngineSpec[]): Parsed<Record<Strategy, string[]>> {
  const names = new Set(specs.map((s) => s.name));
  const given = new Map<Strategy, string[]>();
  for (const part of (raw ?? '').split(';').map((p) => p.trim()).filter((p) => p.length > 0)) {
    const eq = part.indexOf('=');
    const strategy = (eq < 0 ? part : part.slice(0, eq)).trim();
    if (!(STRATEGIES as readonly string[]).includes(strategy)) return { ok: false, error: `"${strategy}" is not a strategy; use ${STRATEGIES.join(', ')}` };
    if (given.has(strategy as Strategy)) return { ok: false, error: `strategy ${strategy} is given twice` };
    const list = eq < 0 ? [] : part.slice(eq + 1).split(',').map((n) => n.trim()).filter((n) => n.length > 0);
    for (const n of list) {
      if (!names.has(n) && !(STRATEGIES as readonly string[]).includes(n)) {
        return { ok: false, error: `strategy ${strategy} names "${n}", which is neither an engine (${[...names].join(', ')}) nor a strategy` };
      }
    }
    given.set(strategy as Strategy, list);
  }
  const resolved = new Map<Strategy, string[]>();
  const resolve = (s: Strategy, path: Strategy[]): Parsed<string[]> => {
    const done = resolved.get(s);
    if (done) return { ok: true, value: done };
    if (path.includes(s)) return { ok: false, error: `strategies refer to each other in a loop (${[...path, s].join(' → ')})` };
    const list = given.get(s) ?? defaultList(s, specs);
    const out: string[] = [];
    for (const n of list) {
      if ((STRATEGIES as readonly string[]).includes(n)) {
        const inner = resolve(n as Strategy, [...path, s]);
        if (!inner.ok) return inner;
        out.push(...inner.value);
      } else out.push(n);
    }
    const unique = [...new Set(out)];
    resolved.set(s, unique);
    return { ok: true, value: unique };
  };
  const table = {} as Record<Strategy, string[]>;
  for (const s of STRATEGIES) {
    const r = resolve(s, []);
    if (!r.ok) return r;
    table[s] = r.value;
  }
  return { ok: true, value: table };
}

function defaultList(s: Strategy, specs: readonly EngineSpec[]): string[] {
  const upstream = specs.filter((e) => e.type !== 'local').map((e) => e.name);
  if (upstream.length === 0) return ['local'];
  // Vertex first: it serves Veo's GA models; the Gemini API's Veo ids are reported retired (docs/model-ids.md).
  const builtIn = ['vertex', 'gemini'].filter((n) => upstream.includes(n));
  switch (s) {
    case 'official':
      return builtIn.length > 0 ? builtIn : upstream;
    case 'value':
      return [];
    case 'auto':
      return ['value', 'official'];
  }
}
