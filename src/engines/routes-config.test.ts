import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config.js';
import { parseEngineSpecs, parseRoutes } from './routes-config.js';

const gemini = { apiKey: 'k', baseUrl: 'https://generativelanguage.googleapis.com', modelFast: 'f', modelQuality: 'q' };

describe('engine instances and routes', () => {
  it('routes every strategy to local when no upstream is configured', () => {
    const config = loadConfig({});
    expect(config.engineSpecs.map((s) => s.name)).toEqual(['local']);
    expect(config.routes).toEqual({ auto: ['local'], value: ['local'], official: ['local'] });
  });

  it('with a Gemini key: official = gemini, value = nothing, auto = value then official', () => {
    const config = loadConfig({ GEMINI_API_KEY: 'k' });
    expect(config.routes).toEqual({ auto: ['gemini'], value: [], official: ['gemini'] });
    expect(config.geminiModelFast).toBe('veo-3.1-fast-generate-preview');
    expect(config.geminiModelQuality).toBe('veo-3.1-generate-preview');
  });

  it('expands strategy names, keeps order, drops repeats, and defaults what is left out', () => {
    const specs = parseEngineSpecs('{"partner":{"type":"gemini","baseUrl":"https://proxy.example/"}}', gemini);
    expect(specs.ok && specs.value.map((s) => s.name)).toEqual(['local', 'gemini', 'partner']);
    if (!specs.ok) return;
    expect(specs.value[2]).toMatchObject({ apiKey: 'k', baseUrl: 'https://proxy.example' });
    expect(parseRoutes('value=partner', specs.value)).toEqual({ ok: true, value: { auto: ['partner', 'gemini'], value: ['partner'], official: ['gemini'] } });
    expect(parseRoutes('official=gemini,local;auto=official,value,gemini;value=partner', specs.value)).toEqual({
      ok: true, value: { auto: ['gemini', 'local', 'partner'], value: ['partner'], official: ['gemini', 'local'] },
    });
  });

  it('refuses unknown names, loops and bad engine settings with a message', () => {
    expect(() => loadConfig({ LONGSHOT_ROUTES: 'official=gemini' })).toThrow(ConfigError);
    expect(() => loadConfig({ LONGSHOT_ROUTES: 'fastest=local' })).toThrow(/not a strategy/);
    expect(() => loadConfig({ LONGSHOT_ROUTES: 'auto=value;value=auto' })).toThrow(/loop/);
    expect(() => loadConfig({ LONGSHOT_ENGINES: '{"x":{"type":"gemini"}}' })).toThrow(/apiKey/);
    expect(() => loadConfig({ LONGSHOT_ENGINES: '{"local":{"type":"gemini","apiKey":"k"}}' })).toThrow(/built in/);
  });
});
