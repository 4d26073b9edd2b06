import { readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILT_IN_TEMPLATES_DIR, loadTemplates } from '../src/engines/comfyui/template.js';
import { comfyServiceEnv, type FakeComfy, startFakeComfy } from './support/fake-comfyui.js';
import { type ImageServer, startImageServer } from './support/image-server.js';
import { frameAt, frameHashes, meanAbsDiff, meanRgb, probe } from './support/media.js';
import { startTestService, type TestService, waitForTask } from './support/service.js';

/**
 * The `comfyui` engine's image-to-video and extensions (docs/comfyui.md) against the fake ComfyUI:
 * the start image uploaded under a task-scoped name and bound into LoadImage (the fake refuses a
 * workflow naming a file it was never sent), and an extension that uploads the source's last
 * frame, renders a 7 s continuation from it and splices it behind the untouched source.
 */
let comfy: FakeComfy;
let images: ImageServer;
let t: TestService;

beforeAll(async () => {
  [comfy, images] = await Promise.all([startFakeComfy(), startImageServer()]);
  t = await startTestService(
    comfyServiceEnv({ gpu: { type: 'comfyui', baseUrl: comfy.url } }, 'official=gpu;value=local;auto=gpu', { LONGSHOT_ALLOW_PRIVATE_IMAGE_URLS: 'true' }),
  );
});

afterAll(async () => {
  await t?.close();
  await Promise.all([comfy?.close(), images?.close()]);
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

const balance = async (): Promise<number> => (await t.api('GET', '/api/v1/apikeys/current-balance')).body.data;

describe('image to video on ComfyUI', () => {
  it('uploads the start image as longshot-<taskId>-0.png, binds it into LoadImage and renders', async () => {
    const id = await submit('veo-3-1', {
      provider: 'official',
      input: { prompt: 'the red wall fades to dusk', mode: 'fast', generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO', image_urls: [`${images.url}/first.png`] },
    });
    const data = await waitForTask(t, 'veo-3-1', id);
    expect(data.state, JSON.stringify(data)).toBe('success');
    const upload = comfy.uploads.find((u) => u.asked === `longshot-${id}-0.png`);
    expect(upload, JSON.stringify(comfy.uploads.map((u) => u.asked))).toBeDefined();
    expect(upload!.overwrite).toBe('true');
    const sent = comfy.prompts.get(id);
    expect(sent['56']).toEqual({ class_type: 'LoadImage', inputs: { image: upload!.name } });
    expect(sent['55'].inputs).toMatchObject({ start_image: ['56', 0], width: 1280, height: 704, length: 121 });

    // The bytes sent are the client's picture (the red frame), not something else.
    const sentImage = join(t.dataDir, 'comfy-upload.png');
    await writeFile(sentImage, upload!.bytes);
    const [r, g, b] = meanRgb(await frameAt(sentImage, 0));
    expect(r).toBeGreaterThan(240);
    expect(Math.max(g, b)).toBeLessThan(15);

    const p = await probe(await download(data, 'comfy-i2v.mp4'));
    expect(p.video).toMatchObject({ codec: 'h264', width: 1280, height: 704, fps: 24 });
    expect(p.video.frames).toBe(121);
    expect(p.audio).toMatchObject({ codec: 'aac' });
  });

  it('refuses a first and a last frame (two images) as INVALID_PARAMETER, refunded, without queueing', async () => {
    const before = await balance();
    const prompts = comfy.prompts.size;
    const id = await submit('veo-3-1', {
      provider: 'official',
      input: {
        prompt: 'from red to blue',
        mode: 'fast',
        generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO',
        image_urls: [`${images.url}/first.png`, `${images.url}/last.png`],
      },
    });
    const data = await waitForTask(t, 'veo-3-1', id);
    expect(data).toMatchObject({ state: 'failed', failCode: 'INVALID_PARAMETER' });
    expect(data.failMsg).toContain('workflow template wan22-ti2v-5b-i2v of engine gpu takes one start image; 2 image_urls given');
    expect(comfy.prompts.size).toBe(prompts);
    expect(await balance()).toBe(before);
  });

  it('does not route references to a ComfyUI engine without a references template (none of its default ones claims REFERENCE_2_VIDEO)', async () => {
    const before = await balance();
    const input = { prompt: 'a cat', mode: 'fast', generationType: 'REFERENCE_2_VIDEO', image_urls: [`${images.url}/ref.jpg`] };
    const id = await submit('veo-3-1', { provider: 'official', input });
    const data = await waitForTask(t, 'veo-3-1', id);
    expect(data).toMatchObject({ state: 'failed', failCode: 'UPSTREAM_ERROR', failMsg: 'no engine is configured for provider official' });
    expect(comfy.uploads.some((u) => u.asked.includes(id))).toBe(false);
    expect(await balance()).toBe(before);
  });
});

describe('extensions on ComfyUI', () => {
  it('keeps the whole source frame for frame and adds 7 s rendered from its uploaded last frame', async () => {
    const first = await waitForTask(t, 'veo-3-1', await submit('veo-3-1', { provider: 'official', input: { prompt: 'a harbour at noon', mode: 'fast' } }));
    expect(first.state, JSON.stringify(first)).toBe('success');
    const sourcePath = await download(first, 'comfy-source.mp4');
    const prompt = 'the boats sail out';
    const id = await submit('veo-3-1-extend', { provider: 'official', input: { taskId: first.taskId, prompt } });
    const data = await waitForTask(t, 'veo-3-1-extend', id);
    expect(data.state, JSON.stringify(data)).toBe('success');

    // The continuation: image to video from the last frame, at least 7 s (169 frames at 24 fps).
    const sent = comfy.prompts.get(id);
    expect(sent['6'].inputs.text).toBe(prompt);
    expect(sent['55'].inputs).toMatchObject({ start_image: ['56', 0], width: 1280, height: 704, length: 169 });
    const upload = comfy.uploads.find((u) => u.asked === `longshot-${id}-last.png`);
    expect(upload).toBeDefined();
    expect(sent['56'].inputs.image).toBe(upload!.name);
    const lastPng = join(t.dataDir, 'comfy-last.png');
    await writeFile(lastPng, upload!.bytes);
    const src = await probe(sourcePath);
    const sentFrame = await frameAt(lastPng, 0);
    const lastDiff = meanAbsDiff(sentFrame, await frameAt(sourcePath, src.video.frames - 1));
    expect(lastDiff).toBeLessThan(2);
    expect(lastDiff).toBeLessThan(meanAbsDiff(sentFrame, await frameAt(sourcePath, 0)));

    const resultPath = await download(data, 'comfy-extended.mp4');
    const out = await probe(resultPath);
    expect(out.video).toMatchObject({ codec: 'h264', width: src.video.width, height: src.video.height, fps: 24 });
    expect(out.audio).toMatchObject({ codec: 'aac' });
    expect(out.video.frames).toBe(src.video.frames + 7 * 24);
    expect(Math.abs(out.durationSec - (src.durationSec + 7))).toBeLessThanOrEqual(0.1);
    const n = src.video.frames;
    expect(await frameHashes(resultPath, { to: n })).toEqual(await frameHashes(sourcePath, { to: n }));
  });

  it('extends a video the local engine made (a foreign source)', async () => {
    const local = await waitForTask(t, 'veo-3-1', await submit('veo-3-1', { provider: 'value', input: { prompt: 'a quiet street', mode: 'fast', seed: 9 } }));
    expect(local.state).toBe('success');
    const sourcePath = await download(local, 'local-source.mp4');
    const data = await waitForTask(
      t,
      'veo-3-1-extend',
      await submit('veo-3-1-extend', { provider: 'official', input: { taskId: local.taskId, prompt: 'a bus drives by' } }),
    );
    expect(data.state, JSON.stringify(data)).toBe('success');
    const [src, out] = await Promise.all([probe(sourcePath), probe(await download(data, 'local-extended.mp4'))]);
    expect(out.video).toMatchObject({ width: src.video.width, height: src.video.height, fps: 24 });
    expect(out.video.frames).toBe(src.video.frames + 7 * 24);
    const n = src.video.frames;
    expect(await frameHashes(join(t.dataDir, 'local-extended.mp4'), { to: n })).toEqual(await frameHashes(sourcePath, { to: n }));
  });
});

describe('image templates', () => {
  it('refuses a template claiming FIRST_AND_LAST_FRAMES_2_VIDEO without bind.startImage, and one claiming REFERENCE_2_VIDEO without bind.referenceImage', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'comfy-workflows-'));
    try {
      await cp(join(BUILT_IN_TEMPLATES_DIR, 'wan22-ti2v-5b-i2v'), join(dir, 'mine'), { recursive: true });
      const file = join(dir, 'mine', 'template.json');
      const meta = JSON.parse(readFileSync(file, 'utf8'));
      await writeFile(file, JSON.stringify({ ...meta, bind: { ...meta.bind, startImage: undefined } }));
      expect(() => loadTemplates(dir)).toThrow('workflow template mine: generationTypes: FIRST_AND_LAST_FRAMES_2_VIDEO needs bind.startImage');
      await writeFile(file, JSON.stringify({ ...meta, generationTypes: ['REFERENCE_2_VIDEO'] }));
      expect(() => loadTemplates(dir)).toThrow('workflow template mine: generationTypes: REFERENCE_2_VIDEO needs bind.referenceImage');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
