import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEngines } from '../src/cli/engines.js';
import { type FakeGemini, startFakeGemini } from './support/fake-gemini.js';
import { type FakeVertex, startFakeVertex } from './support/fake-vertex.js';
import { killWhileWaiting } from './support/kill-resume.js';
import { startTestService, type TestService, waitForTask } from './support/service.js';
import { vertexEnv } from './support/vertex-env.js';

/**
 * Engines that cannot serve are noticed and routed around (docs/operations.md, engine health):
 * a retired model found by the model check at start, a breaker opened by failures in a row and
 * closed by one probe, and a worker killed while Vertex renders that never pays twice.
 */
let vertex: FakeVertex;
let gemini: FakeGemini;

beforeAll(async () => {
  [vertex, gemini] = await Promise.all([startFakeVertex(), startFakeGemini()]);
  // Google shut the Gemini API's Veo preview ids down (docs/model-ids.md): 404 "no longer available".
  gemini.models.clear();
  gemini.retired = new Set(['veo-3.1-fast-generate-preview', 'veo-3.1-generate-preview']);
});

afterAll(async () => {
  await vertex?.close();
  await gemini?.close();
});

async function submit(svc: TestService, provider: string, prompt: string): Promise<string> {
  const res = await svc.api('POST', '/api/v1/generateTask/veo-3-1', { body: { provider, input: { prompt, mode: 'fast' } } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data.taskId;
}

/** What `longshot engines --json` prints for this service's data dir and settings. */
async function enginesJson(svc: TestService, env: Record<string, string>): Promise<any[]> {
  let out = '';
  const code = await runEngines(['--json'], {
    env: { ...env, LONGSHOT_DATA_DIR: svc.dataDir, ...databaseEnvOf(svc) },
    out: (s) => (out += s),
    err: () => undefined,
  });
  expect(code).toBe(0);
  return JSON.parse(out);
}

/** The CLI must read the same database as the service (a per-test PostgreSQL schema, when used). */
function databaseEnvOf(svc: TestService): Record<string, string> {
  return svc.config.databaseUrl ? { DATABASE_URL: svc.config.databaseUrl } : {};
}

describe('a retired model', () => {
  let t: TestService;
  let env: Record<string, string>;
  beforeAll(async () => {
    env = vertexEnv(vertex, {
      GEMINI_API_KEY: gemini.apiKey,
      LONGSHOT_GEMINI_BASE_URL: gemini.url,
      LONGSHOT_ROUTES: 'official=gemini;value=vertex;auto=official,value',
    });
    t = await startTestService(env);
  });
  afterAll(() => t?.close());

  it('makes its engine unavailable at start, named with the fix, and auto serves on the next engine', async () => {
    expect(gemini.modelGets).toContain('veo-3.1-fast-generate-preview');
    const health = await t.api('GET', '/healthz', { key: null });
    expect(health.status).toBe(200);
    expect(health.body.data).toEqual({
      status: 'degraded',
      engines: [{ engine: 'gemini', reason: 'the upstream model veo-3.1-fast-generate-preview is not available' }],
    });

    const geminiSubmits = gemini.submitRequests;
    const id = await submit(t, 'auto', 'a lighthouse on auto');
    const data = await waitForTask(t, 'veo-3-1', id);
    expect(data.state, JSON.stringify(data)).toBe('success');
    expect(gemini.submitRequests).toBe(geminiSubmits);
    expect((await t.service.deps.db.kysely.selectFrom('tasks').select('engine').where('id', '=', id).executeTakeFirstOrThrow()).engine).toBe('vertex');

    const [g] = (await enginesJson(t, env)).filter((e) => e.engine === 'gemini');
    expect(g).toMatchObject({ type: 'gemini', available: false, routes: ['auto', 'official'] });
    expect(g.reason).toMatch(/no longer available/);
    expect(g.fix).toMatch(/LONGSHOT_GEMINI_MODEL_FAST/);
  });

  it('fails a task whose route has no healthy engine left with UPSTREAM_ERROR, refunded, saying why', async () => {
    const before = (await t.api('GET', '/api/v1/apikeys/current-balance')).body.data;
    const data = await waitForTask(t, 'veo-3-1', await submit(t, 'official', 'a lighthouse on official'));
    expect(data).toMatchObject({ state: 'failed', failCode: 'UPSTREAM_ERROR' });
    expect(data.failMsg).toMatch(/gemini is unavailable \(the upstream model veo-3.1-fast-generate-preview is not available\)/);
    expect(data.failMsg).not.toMatch(/api key|x-goog|@/i);
    expect((await t.api('GET', '/api/v1/apikeys/current-balance')).body.data).toBe(before);
  });
});

describe('the circuit breaker', () => {
  let t: TestService;
  let env: Record<string, string>;
  beforeAll(async () => {
    env = vertexEnv(vertex, {
      LONGSHOT_ROUTES: 'official=vertex;auto=official;value=',
      LONGSHOT_BREAKER_FAILURES: '5',
      LONGSHOT_BREAKER_COOLDOWN_SECONDS: '1',
      LONGSHOT_UPSTREAM_RETRIES: '0',
      LONGSHOT_WORKERS: '1',
    });
    t = await startTestService(env);
  });
  afterAll(() => t?.close());

  it('opens after 5 upstream errors in a row, skips the engine, and one probe after the cool-down closes it', async () => {
    for (let i = 0; i < 5; i++) {
      const data = await waitForTask(t, 'veo-3-1', await submit(t, 'official', `a storm fake:500 #${i}`));
      expect(data.failCode).toBe('UPSTREAM_ERROR');
    }
    expect(t.service.deps.health.standing('vertex')).toMatchObject({ available: true, consecutiveFailures: 5 });

    const requests = vertex.submitRequests;
    const skipped = await waitForTask(t, 'veo-3-1', await submit(t, 'official', 'a calm sea while open'));
    expect(skipped).toMatchObject({ state: 'failed', failCode: 'UPSTREAM_ERROR' });
    expect(skipped.failMsg).toMatch(/vertex failed 5 times in a row and is skipped until/);
    expect(vertex.submitRequests).toBe(requests);
    expect((await t.api('GET', '/healthz', { key: null })).body.data.status).toBe('degraded');
    const [stored] = await enginesJson(t, env).then((list) => list.filter((e) => e.engine === 'vertex'));
    expect(stored.consecutiveFailures).toBe(5);
    expect(stored.breakerOpenUntil).not.toBeNull();

    await new Promise((r) => setTimeout(r, 1100));
    const probe = await waitForTask(t, 'veo-3-1', await submit(t, 'official', 'a calm sea after the cool-down'));
    expect(probe.state, JSON.stringify(probe)).toBe('success');
    expect(t.service.deps.health.standing('vertex')).toMatchObject({ consecutiveFailures: 0, openUntil: null });
    expect((await t.api('GET', '/healthz', { key: null })).body.data).toEqual({ status: 'ok' });
    const [after] = (await enginesJson(t, env)).filter((e) => e.engine === 'vertex');
    expect(after.lastHour).toMatchObject({ runs: 6, successRate: 1 / 6 });
  });
});

describe('a worker killed while waiting on Vertex', () => {
  it('is resumed by the next process without a second submit', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'longshot-vertex-kill-'));
    // SQLite in dataDir: the children must not inherit a DATABASE_URL meant for per-test schemas.
    const env = { ...vertexEnv(vertex), LONGSHOT_DATA_DIR: dataDir, LONGSHOT_LEASE_MS: '1500', LONGSHOT_WORKERS: '1', DATABASE_URL: '' };
    const prompt = 'a kill -9 while Vertex renders';
    const sent = () => vertex.submits.filter((s) => s.body.instances[0].prompt === prompt).length;
    try {
      const done = await killWhileWaiting(env, vertex, { provider: 'official', input: { prompt, mode: 'fast' } }, sent);
      expect(done.state, JSON.stringify(done)).toBe('success');
      expect(sent()).toBe(1);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
