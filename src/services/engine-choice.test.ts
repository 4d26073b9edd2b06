import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { buildEngineRegistry } from '../engines/build-registry.js';
import { defaultFontPath, resolveFfmpeg } from '../engines/ffmpeg.js';
import { createEngineHealth } from '../engines/health.js';
import { createLocalEngine } from '../engines/local/local-engine.js';
import { chooseEngines } from './engine-choice.js';

const T0 = 1_700_000_000_000;
const upstreamError = { ok: false as const, failCode: 'UPSTREAM_ERROR' as const, message: 'down', retryable: false };

/** Real engines of a real configuration: two ComfyUI instances of concurrency 1 (never called here) and local. */
function setup(routes = 'official=a,b;value=local,a') {
  const tools = { ffmpegPath: resolveFfmpeg(), fontPath: defaultFontPath() };
  const config = loadConfig({
    LONGSHOT_ENGINES: JSON.stringify({ a: { type: 'comfyui', baseUrl: 'http://127.0.0.1:9' }, b: { type: 'comfyui', baseUrl: 'http://127.0.0.1:9' } }),
    LONGSHOT_ROUTES: routes,
  });
  const registry = buildEngineRegistry(config, createLocalEngine({ ...tools, tmpDir: tmpdir() }), tools);
  const health = createEngineHealth(['local', 'a', 'b'], { failures: 1, cooldownMs: 60_000, probeTimeoutMs: 300_000, recheckMs: 600_000 });
  const route = (strategy: 'official' | 'value') => registry.routesFor(strategy, 'veo-3-1', 'TEXT_2_VIDEO');
  return { health, route };
}

const names = (c: { engines: { name: string }[] }) => c.engines.map((e) => e.name);

describe('choosing an engine of a route with room', () => {
  it('counts a slot as taken when chosen: two choices in one tick go to different instances, a third keeps the route order', () => {
    const { health, route } = setup();
    const first = chooseEngines(route('official'), 't1', health, T0);
    const second = chooseEngines(route('official'), 't2', health, T0);
    const third = chooseEngines(route('official'), 't3', health, T0);
    expect([names(first), names(second), names(third)]).toEqual([
      ['a', 'b'],
      ['b', 'a'],
      ['a', 'b'],
    ]);
    // A reserved slot given back unused is free for the next choice.
    second.release();
    second.release();
    expect(names(chooseEngines(route('official'), 't4', health, T0))).toEqual(['b', 'a']);
  });

  it('keeps the route order around an instance whose breaker is open, reserving on the one after it', () => {
    const { health, route } = setup();
    health.record('a', upstreamError, T0);
    expect(health.wouldAdmit('a', T0)).toBe(false);
    const choice = chooseEngines(route('official'), 't1', health, T0);
    // run-task passes over a as before and renders on b, whose one slot is now taken for t1.
    expect(names(choice)).toEqual(['a', 'b']);
    expect(route('official')[1]!.reserve!('t2')).toBeNull();
    choice.release();
    // After the cool-down a is probed as before: asking does not take the probe, admitting does.
    const later = T0 + 60_000;
    expect(names(chooseEngines(route('official'), 't3', health, later))).toEqual(['a', 'b']);
    expect(health.admit('a', later)).toEqual({ admit: true, probe: true });
    expect(health.wouldAdmit('a', later)).toBe(false);
  });

  it('keeps a route of engines without slots as it is, and never spills a full instance onto one', () => {
    const { health, route } = setup('official=a,local,b;value=local,a');
    for (const id of ['t1', 't2']) expect(names(chooseEngines(route('value'), id, health, T0))).toEqual(['local', 'a']);
    expect(names(chooseEngines(route('official'), 't3', health, T0))).toEqual(['a', 'local', 'b']);
    // a's one slot is t3's: the next task waits for a (local counts no slots, and the search
    // stops there, before b), with local still its failover.
    expect(names(chooseEngines(route('official'), 't4', health, T0))).toEqual(['a', 'local', 'b']);
  });
});
