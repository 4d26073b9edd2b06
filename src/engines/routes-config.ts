import { STRATEGIES, type Strategy } from '../domain/models.js';

/** One engine instance the operator configured; routes name instances (docs/gemini.md). */
export type EngineSpec =
  | { name: string; type: 'local' }
  | { name: string; type: 'gemini'; apiKey: string; baseUrl: string; modelFast: string; modelQuality: string };

/** The settings of the built-in `gemini` instance; extra instances inherit what they leave out. */
export interface GeminiDefaults {
  apiKey: string | null;
  baseUrl: string;
  modelFast: string;
  modelQuality: string;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const NAME = /^[a-z][a-z0-9_-]{0,31}$/;

/**
 * The engine instances: `local` always; `gemini` when a key is set; plus those of
 * `LONGSHOT_ENGINES`, a JSON object `{"name": {"type": "gemini", "baseUrl"?, "apiKey"?,
 * "modelFast"?, "modelQuality"?}}`.
 */
export function parseEngineSpecs(raw: string | undefined, gemini: GeminiDefaults): Parsed<EngineSpec[]> {
  const specs: EngineSpec[] = [{ name: 'local', type: 'local' }];
  if (gemini.apiKey) specs.push({ name: 'gemini', type: 'gemini', apiKey: gemini.apiKey, baseUrl: gemini.baseUrl, modelFast: gemini.modelFast, modelQuality: gemini.modelQuality });
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
    const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
    if (v.type !== 'gemini') return { ok: false, error: `engine "${name}" needs "type": "gemini" (the only configurable type)` };
    const str = (k: string, fallback: string | null): string | null => (typeof v[k] === 'string' && (v[k] as string).trim() ? (v[k] as string).trim() : fallback);
    const apiKey = str('apiKey', gemini.apiKey);
    if (!apiKey) return { ok: false, error: `engine "${name}" needs "apiKey" (or set GEMINI_API_KEY)` };
    const baseUrl = str('baseUrl', gemini.baseUrl)!.replace(/\/+$/, '');
    if (!/^https?:\/\//.test(baseUrl)) return { ok: false, error: `engine "${name}": baseUrl must be an http(s) URL` };
    specs.push({ name, type: 'gemini', apiKey, baseUrl, modelFast: str('modelFast', gemini.modelFast)!, modelQuality: str('modelQuality', gemini.modelQuality)! });
  }
  return { ok: true, value: specs };
}

/**
 * The route table: `LONGSHOT_ROUTES="official=gemini;value=partner;auto=value,official"`. A list
 * names engine instances or other strategies (expanded in place); an empty list (`value=`)
 * routes nothing. Strategies left out take the defaults: with an upstream engine,
 * official = [gemini], value = [] (no partner reseller yet), auto = value then official;
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
  switch (s) {
    case 'official':
      return upstream.includes('gemini') ? ['gemini'] : upstream;
    case 'value':
      return [];
    case 'auto':
      return ['value', 'official'];
  }
}
