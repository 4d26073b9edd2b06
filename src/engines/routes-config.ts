import { STRATEGIES, type Strategy } from '../domain/models.js';
import { type EngineSpec, PARTNER_TYPES, type Parsed } from './engine-specs.js';

/**
 * The route table: `LONGSHOT_ROUTES="official=gemini;value=partner;auto=value,official"`. A list
 * names engine instances or other strategies (expanded in place); an empty list (`value=`)
 * routes nothing. Strategies left out take the defaults: with an upstream engine,
 * official = the built-in vertex and gemini instances (in that order; else every Google-type
 * instance), value = the partner instances (apixo, fal), auto = value then official;
 * with none, every strategy → [local] (docs/contract.md §6).
 */
export function parseRoutes(raw: string | undefined, specs: readonly EngineSpec[]): Parsed<Record<Strategy, string[]>> {
  const names = new Set(specs.map((s) => s.name));
  const given = new Map<Strategy, string[]>();
  for (const part of (raw ?? '')
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p.length > 0)) {
    const eq = part.indexOf('=');
    const strategy = (eq < 0 ? part : part.slice(0, eq)).trim();
    if (!(STRATEGIES as readonly string[]).includes(strategy)) return { ok: false, error: `"${strategy}" is not a strategy; use ${STRATEGIES.join(', ')}` };
    if (given.has(strategy as Strategy)) return { ok: false, error: `strategy ${strategy} is given twice` };
    const list =
      eq < 0
        ? []
        : part
            .slice(eq + 1)
            .split(',')
            .map((n) => n.trim())
            .filter((n) => n.length > 0);
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
  // A ComfyUI engine renders open-weights models, not Veo: it serves only routes that name it (docs/comfyui.md).
  const veo = specs.filter((e) => e.type !== 'comfyui');
  const upstream = veo.filter((e) => e.type !== 'local').map((e) => e.name);
  if (upstream.length === 0) return ['local'];
  const official = veo.filter((e) => e.type !== 'local' && !PARTNER_TYPES.has(e.type)).map((e) => e.name);
  // Vertex first: it serves Veo's GA models; the Gemini API's Veo ids are reported retired (docs/model-ids.md).
  const builtIn = ['vertex', 'gemini'].filter((n) => upstream.includes(n));
  switch (s) {
    case 'official':
      return builtIn.length > 0 ? builtIn : official;
    case 'value':
      // Partner resellers, in the order they were configured (docs/partners.md).
      return specs.filter((e) => PARTNER_TYPES.has(e.type)).map((e) => e.name);
    case 'auto':
      return ['value', 'official'];
  }
}
