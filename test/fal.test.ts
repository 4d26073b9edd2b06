import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeFal, startFakeFal } from './support/fake-fal.js';
import { type ImageServer, startImageServer } from './support/image-server.js';
import { killWhileWaiting } from './support/kill-resume.js';
import { frameHashes, probe } from './support/media.js';
import { startTestService, type TestService, waitForTask } from './support/service.js';

/**
 * The `fal` engine against a fake fal queue (test/support/fake-fal.ts, proven with @fal-ai/client
 * in fal-fake.test.ts): every kind of input to its endpoint, images as data URIs, extension of a
 * local video by its tail, fal's late 422s mapped to fail codes, and failover between partners.
 */
let fal: FakeFal;
let broken: FakeFal;
let t: TestService;
let images: ImageServer;
let imagesUrl: string;

function falEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    LONGSHOT_ENGINES: JSON.stringify({
      fal: { type: 'fal', apiKey: fal.apiKey, baseUrl: fal.url, allowPrivate: true },
      flaky: { type: 'fal', apiKey: broken.apiKey, baseUrl: broken.url, allowPrivate: true },
    }),
    // official → fal; value → the local engine (which makes the sources extended on fal).
    LONGSHOT_ROUTES: 'official=fal;value=local;auto=flaky,fal',
    LONGSHOT_UPSTREAM_POLL_MS: '40',
    LONGSHOT_UPSTREAM_POLL_MAX_MS: '100',
    LONGSHOT_UPSTREAM_RETRY_MS: '20',
    LONGSHOT_UPSTREAM_RETRIES: '1',
    LONGSHOT_BREAKER_FAILURES: '1000',
    LONGSHOT_ALLOW_PRIVATE_IMAGE_URLS: 'true',
    LONGSHOT_WORKERS: '3',
    ...extra,
  };
}

beforeAll(async () => {
  [fal, broken] = await Promise.all([startFakeFal(), startFakeFal()]);
  broken.alwaysStatus = 503;
  images = await startImageServer();
  imagesUrl = images.url;
  t = await startTestService(falEnv());
});

afterAll(async () => {
  await t?.close();
  await Promise.all([fal?.close(), broken?.close()]);
  await images?.close();
});

async function submit(model: 'veo-3-1' | 'veo-3-1-extend', body: unknown): Promise<string> {
  const res = await t.api('POST', `/api/v1/generateTask/${model}`, { body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data.taskId;
}

async function download(data: { resultJson: string }, name: string): Promise<string> {
  const res = await fetch(JSON.parse(data.resultJson).resultUrls[0]);
  const path = join(t.dataDir, name);
  await writeFile(path, Buffer.from(await res.arrayBuffer()));
  return path;
}

const sentFor = (prompt: string) => fal.submits.filter((s) => s.body.prompt === prompt);
const balance = async (): Promise<number> => (await t.api('GET', '/api/v1/apikeys/current-balance')).body.data;

describe('the fal engine', () => {
  it('sends text to video to the fast endpoint: 8 s, 720p, sound, the seed', async () => {
    const prompt = 'a paper boat on a puddle';
    const data = await waitForTask(t, 'veo-3-1', await submit('veo-3-1', { provider: 'official', input: { prompt, mode: 'fast', seed: 77 } }));
    expect(data.state, JSON.stringify(data)).toBe('success');
    const [sent] = sentFor(prompt);
    expect(sent!.endpoint).toBe('fal-ai/veo3.1/fast');
    expect(sent!.body).toEqual({ prompt, resolution: '720p', generate_audio: true, seed: 77, aspect_ratio: '16:9', duration: '8s' });
    expect(Math.abs((await probe(await download(data, 'fal.mp4'))).durationSec - 8)).toBeLessThanOrEqual(0.1);
  });

  it('sends each kind of input to its endpoint, images as data URIs', async () => {
    const cases = [
      {
        prompt: 'fal one frame',
        input: { mode: 'quality', generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO', image_urls: [`${imagesUrl}/first.png`] },
        endpoint: 'fal-ai/veo3.1/image-to-video',
        fields: ['image_url'],
      },
      {
        prompt: 'fal two frames',
        input: { mode: 'fast', generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO', image_urls: [`${imagesUrl}/first.png`, `${imagesUrl}/last.png`] },
        endpoint: 'fal-ai/veo3.1/fast/first-last-frame-to-video',
        fields: ['first_frame_url', 'last_frame_url'],
      },
      {
        prompt: 'fal references',
        input: { mode: 'fast', generationType: 'REFERENCE_2_VIDEO', image_urls: [`${imagesUrl}/ref.jpg`, `${imagesUrl}/first.png`] },
        endpoint: 'fal-ai/veo3.1/reference-to-video',
        fields: ['image_urls'],
      },
      { prompt: 'fal quality text', input: { mode: 'quality', aspect_ratio: '9:16' }, endpoint: 'fal-ai/veo3.1', fields: [] },
    ];
    const ids = await Promise.all(cases.map((c) => submit('veo-3-1', { provider: 'official', input: { prompt: c.prompt, ...c.input } })));
    const results = await Promise.all(ids.map((id) => waitForTask(t, 'veo-3-1', id)));
    for (const [i, c] of cases.entries()) {
      expect(results[i]!.state, JSON.stringify(results[i])).toBe('success');
      const [sent] = sentFor(c.prompt);
      expect(sent!.endpoint).toBe(c.endpoint);
      for (const f of c.fields) {
        const values = ([] as string[]).concat(sent!.body[f]);
        for (const v of values) expect(v).toMatch(/^data:image\/(png|jpeg);base64,/);
      }
    }
    expect(sentFor('fal references')[0]!.body.image_urls).toHaveLength(2);
    expect(sentFor('fal references')[0]!.body.seed).toBeUndefined();
    expect(sentFor('fal quality text')[0]!.body.aspect_ratio).toBe('9:16');
  });

  it('extends a 15 s local video: a tail of at most 8 s is sent, the head is kept frame for frame', async () => {
    let id = await submit('veo-3-1', { provider: 'value', input: { prompt: 'a windmill at dawn', mode: 'fast', seed: 5 } });
    expect((await waitForTask(t, 'veo-3-1', id)).state).toBe('success');
    id = await submit('veo-3-1-extend', { provider: 'value', input: { taskId: id, prompt: 'the sails turn faster', mode: 'fast' } });
    const source = await waitForTask(t, 'veo-3-1-extend', id);
    expect(source.state).toBe('success');
    const sourcePath = await download(source, 'fal-source.mp4');

    const prompt = 'the wind carries leaves past';
    const data = await waitForTask(t, 'veo-3-1-extend', await submit('veo-3-1-extend', { provider: 'official', input: { taskId: id, prompt, mode: 'fast' } }));
    expect(data.state, JSON.stringify(data)).toBe('success');
    const [sent] = sentFor(prompt);
    expect(sent!.endpoint).toBe('fal-ai/veo3.1/fast/extend-video');
    expect(sent!.body.video_url).toMatch(/^data:video\/mp4;base64,/);
    expect(sent!.inputVideoSeconds).toBeGreaterThanOrEqual(4);
    expect(sent!.inputVideoSeconds).toBeLessThanOrEqual(8);

    const resultPath = await download(data, 'fal-extended.mp4');
    const [src, out] = await Promise.all([probe(sourcePath), probe(resultPath)]);
    expect(Math.abs(out.durationSec - (src.durationSec + 7))).toBeLessThanOrEqual(0.1);
    const headFrames = Math.round((src.durationSec - sent!.inputVideoSeconds!) * 24);
    expect(await frameHashes(resultPath, { to: headFrames })).toEqual(await frameHashes(sourcePath, { to: headFrames }));
  });

  it("maps fal's refusals and failures to fail codes and releases every hold", async () => {
    const before = await balance();
    const cases: Array<[string, string]> = [
      ['a garden fake:content', 'CONTENT_VIOLATION'],
      ['a garden fake:422', 'INVALID_PARAMETER'],
      ['a garden fake:fail', 'UPSTREAM_ERROR'],
      ['a garden fake:statusfail', 'UPSTREAM_ERROR'],
    ];
    const ids = await Promise.all(cases.map(([prompt]) => submit('veo-3-1', { provider: 'official', input: { prompt, mode: 'fast' } })));
    const results = await Promise.all(ids.map((id) => waitForTask(t, 'veo-3-1', id)));
    expect(results.map((r) => r.failCode)).toEqual(cases.map(([, code]) => code));
    expect(await balance()).toBe(before);
  });

  it('on auto, skips a failing partner and is served by the next one, charged once', async () => {
    const before = await balance();
    const tried = broken.submitRequests;
    const data = await waitForTask(t, 'veo-3-1', await submit('veo-3-1', { provider: 'auto', input: { prompt: 'a lantern on auto', mode: 'fast' } }));
    expect(data.state, JSON.stringify(data)).toBe('success');
    expect(broken.submitRequests - tried).toBe(2);
    expect(Math.round((before - (await balance())) * 100) / 100).toBe(0.2);
    const row = await t.service.deps.db.kysely.selectFrom('tasks').select('engine').where('id', '=', data.taskId).executeTakeFirstOrThrow();
    expect(row.engine).toBe('fal');
  });
});

describe('a worker killed while fal renders', () => {
  it('is resumed by the next process without a second submit', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'longshot-fal-kill-'));
    const env = { ...falEnv(), LONGSHOT_DATA_DIR: dataDir, LONGSHOT_LEASE_MS: '1500', LONGSHOT_WORKERS: '1', DATABASE_URL: '' };
    const prompt = 'a kill -9 while fal renders';
    const upstream = {
      get hold() {
        return fal.hold;
      },
      set hold(v: boolean) {
        fal.hold = v;
      },
      get polls() {
        return fal.statusPolls;
      },
      release: () => fal.release(),
    };
    try {
      const done = await killWhileWaiting(env, upstream, { provider: 'official', input: { prompt, mode: 'fast' } }, () => sentFor(prompt).length);
      expect(done.state, JSON.stringify(done)).toBe('success');
      expect(sentFor(prompt)).toHaveLength(1);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
