import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeVertex, startFakeVertex } from './support/fake-vertex.js';
import { frameHashes, probe } from './support/media.js';
import { startTestService, type TestService, waitForTask } from './support/service.js';
import { vertexEnv } from './support/vertex-env.js';

/**
 * Veo 3.1 on Vertex AI, end to end: the service talks real HTTP to a fake Vertex AI
 * (test/support/fake-vertex.ts, proven with @google/genai in vertex-fake.test.ts): service-account
 * tokens from the key file's token_uri, predictLongRunning, fetchPredictOperation, inline and
 * Cloud Storage results, and extensions of local videos by their tail.
 */
let fake: FakeVertex;
let t: TestService;

beforeAll(async () => {
  fake = await startFakeVertex();
  // Failure cases below must not open the breaker for the cases after them (breaker.test.ts does that).
  t = await startTestService(vertexEnv(fake, { LONGSHOT_BREAKER_FAILURES: '1000' }));
});

afterAll(async () => {
  await t?.close();
  await fake?.close();
});

async function submit(svc: TestService, model: 'veo-3-1' | 'veo-3-1-extend', body: unknown): Promise<string> {
  const res = await svc.api('POST', `/api/v1/generateTask/${model}`, { body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data.taskId;
}

async function download(svc: TestService, data: { resultJson: string }, name: string): Promise<string> {
  const res = await fetch(JSON.parse(data.resultJson).resultUrls[0]);
  expect(res.status).toBe(200);
  const path = join(svc.dataDir, name);
  await writeFile(path, Buffer.from(await res.arrayBuffer()));
  return path;
}

const submitsFor = (prompt: string) => fake.submits.filter((s) => s.body.instances[0].prompt === prompt);
const engineOf = async (svc: TestService, id: string) =>
  (await svc.service.deps.db.kysely.selectFrom('tasks').select('engine').where('id', '=', id).executeTakeFirstOrThrow()).engine;

describe('the vertex engine', () => {
  it('generates on the GA model with the seed, 8 s at 720p with sound, inline', async () => {
    const prompt = 'a red kite over a green hill';
    const id = await submit(t, 'veo-3-1', { provider: 'official', input: { prompt, mode: 'fast', seed: 4242 } });
    const data = await waitForTask(t, 'veo-3-1', id);
    expect(data.state, JSON.stringify(data)).toBe('success');
    const [sent] = submitsFor(prompt);
    expect(sent!.model).toBe('veo-3.1-fast-generate-001');
    expect(sent!.apiVersion).toBe('v1');
    expect(sent!.body.parameters).toEqual({ sampleCount: 1, durationSeconds: 8, aspectRatio: '16:9', resolution: '720p', generateAudio: true, seed: 4242 });
    const info = await probe(await download(t, data, 'gen.mp4'));
    expect([info.video.width, info.video.height]).toEqual([1280, 720]);
    expect(Math.abs(info.durationSec - 8)).toBeLessThanOrEqual(0.1);
    expect(info.audio?.codec).toBe('aac');
    expect(await engineOf(t, id)).toBe('vertex');
  });

  it('sends portrait, the quality model and first/last frames as inline images', async () => {
    const prompt = 'a tall tower at dusk';
    const id = await submit(t, 'veo-3-1', { provider: 'official', input: { prompt, mode: 'quality', aspect_ratio: '9:16' } });
    const data = await waitForTask(t, 'veo-3-1', id);
    expect(data.state, JSON.stringify(data)).toBe('success');
    const [sent] = submitsFor(prompt);
    expect(sent!.model).toBe('veo-3.1-generate-001');
    expect(sent!.body.parameters.aspectRatio).toBe('9:16');
    // A seed the client left out was drawn at submit, stored, and sent.
    expect(Number.isInteger(sent!.body.parameters.seed)).toBe(true);
    const info = await probe(await download(t, data, 'tall.mp4'));
    expect([info.video.width, info.video.height]).toEqual([720, 1280]);
  });

  it('maps filtered, refused and failed operations to their fail codes and releases every hold', async () => {
    const before = (await t.api('GET', '/api/v1/apikeys/current-balance')).body.data;
    const cases: Array<[string, string]> = [
      ['a beach fake:rai', 'CONTENT_VIOLATION'],
      ['a beach fake:400', 'INVALID_PARAMETER'],
      ['a beach fake:error3', 'INVALID_PARAMETER'],
      ['a beach fake:error13', 'UPSTREAM_ERROR'],
      ['a beach fake:poll500', 'UPSTREAM_ERROR'],
    ];
    const ids = await Promise.all(cases.map(([prompt]) => submit(t, 'veo-3-1', { provider: 'official', input: { prompt, mode: 'fast' } })));
    const results = await Promise.all(ids.map((id) => waitForTask(t, 'veo-3-1', id)));
    expect(results.map((r) => r.failCode)).toEqual(cases.map(([, code]) => code));
    expect(results[0]!.failMsg).toMatch(/Responsible AI/);
    expect((await t.api('GET', '/api/v1/apikeys/current-balance')).body.data).toBe(before);
  });

  it('gets a new token once when Vertex answers 401, and refreshes a short-lived one before it expires', async () => {
    const issued = fake.tokensIssued;
    const unauthorized = fake.unauthorized;
    fake.tokenTtlSeconds = 1;
    // Polled for about 2 s: longer than the 1 s tokens issued from now on.
    fake.pollsBeforeDone = 40;
    try {
      // Every token so far is refused from now on: the engine must get a new one on the 401.
      fake.expireTokens();
      const id = await submit(t, 'veo-3-1', { provider: 'official', input: { prompt: 'short-lived tokens', mode: 'fast' } });
      expect((await waitForTask(t, 'veo-3-1', id)).state).toBe('success');
      expect(fake.unauthorized - unauthorized).toBe(1);
      expect(fake.tokensIssued - issued).toBeGreaterThanOrEqual(2);
    } finally {
      fake.tokenTtlSeconds = 3600;
      fake.pollsBeforeDone = 1;
    }
  });
});

describe('results in Cloud Storage', () => {
  it('names a storageUri and downloads the result with the same token', async () => {
    const svc = await startTestService(vertexEnv(fake, { LONGSHOT_VERTEX_STORAGE_URI: `gs://${fake.bucket}/longshot` }));
    try {
      const prompt = 'a glass of water on a table';
      const downloads = fake.downloads;
      const id = await submit(svc, 'veo-3-1', { provider: 'official', input: { prompt, mode: 'fast' } });
      const data = await waitForTask(svc, 'veo-3-1', id);
      expect(data.state, JSON.stringify(data)).toBe('success');
      expect(submitsFor(prompt)[0]!.body.parameters.storageUri).toBe(`gs://${fake.bucket}/longshot`);
      expect(fake.downloads - downloads).toBe(1);
      expect(Math.abs((await probe(await download(svc, data, 'gcs.mp4'))).durationSec - 8)).toBeLessThanOrEqual(0.1);
    } finally {
      await svc.close();
    }
  });
});

describe('extension of any source', () => {
  /** A local-engine video of 8 + 7·n seconds, made on the `value` route. */
  async function localSource(extensions: number, prompt: string): Promise<{ id: string; model: 'veo-3-1' | 'veo-3-1-extend' }> {
    let id = await submit(t, 'veo-3-1', { provider: 'value', input: { prompt, mode: 'fast', seed: 7 } });
    let model: 'veo-3-1' | 'veo-3-1-extend' = 'veo-3-1';
    expect((await waitForTask(t, model, id)).state).toBe('success');
    for (let i = 0; i < extensions; i++) {
      id = await submit(t, 'veo-3-1-extend', { provider: 'value', input: { taskId: id, prompt: `${prompt}, part ${i + 2}`, mode: 'fast' } });
      model = 'veo-3-1-extend';
      expect((await waitForTask(t, model, id)).state).toBe('success');
    }
    return { id, model };
  }

  for (const [extensions, seconds] of [
    [1, 15],
    [4, 36],
  ] as const) {
    it(`extends a ${seconds} s local video on Vertex: only its tail is sent, the head is kept frame for frame`, async () => {
      const source = await localSource(extensions, `a harbour at noon ${seconds}`);
      const sourcePath = await download(t, await waitForTask(t, source.model, source.id), `source-${seconds}.mp4`);
      const prompt = `the boats sail out ${seconds}`;
      const id = await submit(t, 'veo-3-1-extend', { provider: 'official', input: { taskId: source.id, prompt, mode: 'fast' } });
      const data = await waitForTask(t, 'veo-3-1-extend', id);
      expect(data.state, JSON.stringify(data)).toBe('success');
      expect(await engineOf(t, id)).toBe('vertex');

      const [sent] = submitsFor(prompt);
      const tailSec = sent!.inputVideoSeconds!;
      expect(tailSec).toBeGreaterThanOrEqual(4);
      expect(tailSec).toBeLessThanOrEqual(Math.min(30, seconds));
      expect(sent!.body.parameters.durationSeconds).toBe(7);

      const resultPath = await download(t, data, `extended-${seconds}.mp4`);
      const [src, out] = await Promise.all([probe(sourcePath), probe(resultPath)]);
      expect(Math.abs(out.durationSec - (src.durationSec + 7))).toBeLessThanOrEqual(0.1);
      expect([out.video.width, out.video.height, out.video.codec, out.audio?.codec]).toEqual([src.video.width, src.video.height, 'h264', 'aac']);
      expect(out.video.fps).toBeCloseTo(src.video.fps, 3);
      const headFrames = Math.round((src.durationSec - tailSec) * 24);
      expect(headFrames).toBeGreaterThan(0);
      const [srcHead, outHead] = await Promise.all([frameHashes(sourcePath, { to: headFrames }), frameHashes(resultPath, { to: headFrames })]);
      expect(outHead).toHaveLength(headFrames);
      expect(outHead).toEqual(srcHead);
    });
  }
});
