import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config.js';
import { parseEngineSpecs } from './engine-specs.js';
import { parseRoutes } from './routes-config.js';

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
      ok: true,
      value: { auto: ['gemini', 'local', 'partner'], value: ['partner'], official: ['gemini', 'local'] },
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

describe('upstream engine types', () => {
  const vertexDefaults = {
    project: null,
    location: 'us-central1',
    credentialsFile: null,
    modelFast: 'veo-3.1-fast-generate-001',
    modelQuality: 'veo-3.1-generate-001',
    baseUrl: null,
    storageUri: null,
    storageBaseUrl: 'https://storage.googleapis.com',
  };

  it('makes the built-in vertex instance from the environment, first on official', () => {
    const config = loadConfig({ LONGSHOT_VERTEX_PROJECT: 'p1', GOOGLE_APPLICATION_CREDENTIALS: '/k.json', GEMINI_API_KEY: 'k' });
    expect(config.engineSpecs.find((s) => s.name === 'vertex')).toMatchObject({
      type: 'vertex',
      project: 'p1',
      location: 'us-central1',
      baseUrl: 'https://us-central1-aiplatform.googleapis.com',
      modelFast: 'veo-3.1-fast-generate-001',
    });
    expect(config.routes.official).toEqual(['vertex', 'gemini']);
    expect(() => loadConfig({ LONGSHOT_VERTEX_PROJECT: 'p1' })).toThrow(/GOOGLE_APPLICATION_CREDENTIALS/);
    expect(() => loadConfig({ LONGSHOT_VERTEX_PROJECT: 'p1', GOOGLE_APPLICATION_CREDENTIALS: '/k.json', LONGSHOT_VERTEX_LOCATION: 'mars' })).toThrow(
      /location/,
    );
  });

  it('checks every key of an instance exactly, with its type', () => {
    const bad = (v: unknown) => parseEngineSpecs(JSON.stringify({ x: v }), gemini, vertexDefaults);
    expect(bad({ type: 'vertex', project: 'p', credentialsFile: '/k', region: 'eu' })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/unknown setting "region"/),
    });
    expect(bad({ type: 'apixo', baseUrl: 'https://a.example', apiKey: 'k', allowPrivate: 'yes' })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/allowPrivate.*boolean/),
    });
    expect(bad({ type: 'fal', apiKey: 'k', models: { 'fast/txt': 'fal-ai/x' } })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/unknown key "fast\/txt"/),
    });
    expect(bad({ type: 'vertex', project: 'p', credentialsFile: '/k', storageUri: 's3://b' })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/gs:\/\//),
    });
    expect(bad({ type: 'nope' })).toMatchObject({ ok: false, error: expect.stringMatching(/gemini, vertex, apixo, fal/) });
  });

  it('normalises partner instances and routes value to them by default', () => {
    const specs = parseEngineSpecs(
      JSON.stringify({
        partner: { type: 'apixo', baseUrl: 'https://api.apixo.ai/', apiKey: 'k' },
        cheap: { type: 'fal', apiKey: 'id:secret', models: { 'fast/text': 'fal-ai/veo3.1/lite' } },
      }),
      gemini,
      vertexDefaults,
    );
    expect(specs.ok).toBe(true);
    if (!specs.ok) return;
    expect(specs.value.find((s) => s.name === 'partner')).toMatchObject({ baseUrl: 'https://api.apixo.ai/api/v1', allowPrivate: false, extendWindowHours: 24 });
    const cheap = specs.value.find((s) => s.name === 'cheap');
    expect(cheap).toMatchObject({ baseUrl: 'https://queue.fal.run' });
    expect(cheap?.type === 'fal' && cheap.endpoints['fast/text']).toBe('fal-ai/veo3.1/lite');
    expect(cheap?.type === 'fal' && cheap.endpoints['quality/extend']).toBe('fal-ai/veo3.1/extend-video');
    expect(parseRoutes(undefined, specs.value)).toEqual({
      ok: true,
      value: { auto: ['partner', 'cheap', 'gemini'], value: ['partner', 'cheap'], official: ['gemini'] },
    });
  });
});
