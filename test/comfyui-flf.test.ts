import { readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILT_IN_TEMPLATES_DIR, bindWorkflow, loadTemplates } from '../src/engines/comfyui/template.js';
import { comfyServiceEnv, type FakeComfy, startFakeComfy } from './support/fake-comfyui.js';
import { type ImageServer, startImageServer } from './support/image-server.js';
import { frameAt, meanRgb, probe } from './support/media.js';
import { startTestService, type TestService, waitForTask } from './support/service.js';
import { until } from './support/until.js';

/**
 * The `comfyui` engine's first-and-last-frame template (Wan 2.2 I2V A14B with
 * `WanFirstLastFrameToVideo`, docs/comfyui.md) and its cancel through the newer jobs API, against
 * fake ComfyUIs: both images uploaded under task-scoped names and bound into their LoadImage
 * nodes (the fake renders them as the first and the last frame, so the result shows they were
 * used and in which order), a missing 14B file named exactly, and `POST /api/jobs/{id}/cancel`
 * on a core that has it, `/interrupt` + `/queue {delete}` on one that does not.
 */
const FLF = ['wan22-ti2v-5b', 'wan22-ti2v-5b-i2v', 'wan22-14b-flf2v'];
const HIGH = 'wan2.2_i2v_high_noise_14B_fp8_scaled.safetensors';
const LOW = 'wan2.2_i2v_low_noise_14B_fp8_scaled.safetensors';

/** A fake holding the 5B files and the 14B first-last-frame files (`without` left out). */
async function fakeWith14B(opts: { jobsApi?: boolean; without?: string } = {}): Promise<FakeComfy> {
  const fake = await startFakeComfy(opts.jobsApi ? { jobsApi: true } : {});
  fake.models.set(
    'diffusion_models',
    ['wan2.2_ti2v_5B_fp16.safetensors', HIGH, LOW].filter((f) => f !== opts.without),
  );
  fake.models.set('vae', ['wan2.2_vae.safetensors', 'wan_2.1_vae.safetensors']);
  return fake;
}

let old: FakeComfy;
let newer: FakeComfy;
let lacking: FakeComfy;
let images: ImageServer;
let t: TestService;

beforeAll(async () => {
  [old, newer, lacking, images] = await Promise.all([fakeWith14B(), fakeWith14B({ jobsApi: true }), fakeWith14B({ without: LOW }), startImageServer()]);
  t = await startTestService(
    comfyServiceEnv(
      {
        gpu: { type: 'comfyui', baseUrl: old.url, templates: FLF },
        newer: { type: 'comfyui', baseUrl: newer.url, templates: FLF, concurrency: 2 },
        lacking: { type: 'comfyui', baseUrl: lacking.url, templates: FLF },
        plain: { type: 'comfyui', baseUrl: lacking.url },
      },
      'official=gpu;value=newer;auto=lacking',
      { LONGSHOT_ALLOW_PRIVATE_IMAGE_URLS: 'true' },
    ),
  );
});

afterAll(async () => {
  await t?.close();
  await Promise.all([old?.close(), newer?.close(), lacking?.close(), images?.close()]);
});

async function submit(provider: string, input: Record<string, unknown>): Promise<string> {
  const res = await t.api('POST', '/api/v1/generateTask/veo-3-1', { body: { provider, input: { mode: 'fast', ...input } } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data.taskId;
}

const balance = async (): Promise<number> => (await t.api('GET', '/api/v1/apikeys/current-balance')).body.data;
const running = (fake: FakeComfy, id: string) => until(async () => ((fake.progressSent.get(id) ?? 0) > 0 ? true : undefined), 'the prompt to run');

describe('the shipped Wan 2.2 I2V A14B first-last-frame template', () => {
  it('binds a start and a last frame, is not used by default, and names the 14B files', () => {
    const flf = loadTemplates(BUILT_IN_TEMPLATES_DIR).get('wan22-14b-flf2v')!;
    expect(flf).toMatchObject({ byDefault: false, generationTypes: ['FIRST_AND_LAST_FRAMES_2_VIDEO'], family: 'wan' });
    expect(flf.bind).toMatchObject({ startImage: ['80', 'image'], endImage: ['89', 'image'] });
    expect(flf.workflow['81']!.class_type).toBe('WanFirstLastFrameToVideo');
    expect(flf.models.diffusion_models).toEqual([HIGH, LOW]);
    const job = { taskId: 't1', prompt: 'p', seed: 7 };
    const bound = bindWorkflow(flf, { ...job, aspectRatio: '9:16' }, { startImage: 'a.png', endImage: 'b.png' });
    expect(bound.shape).toEqual({ width: 720, height: 1280, frames: 81, fps: 16 });
    expect([bound.workflow['80']!.inputs.image, bound.workflow['89']!.inputs.image, bound.workflow['84']!.inputs.noise_seed]).toEqual(['a.png', 'b.png', 7]);
    expect(() => bindWorkflow(flf, { ...job, aspectRatio: '16:9' }, { startImage: 'a.png' })).toThrow('workflow template wan22-14b-flf2v needs a last frame');
  });

  it('refuses a template whose endImage has no startImage, or that claims more than first and last frame', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'comfy-flf-'));
    try {
      await cp(join(BUILT_IN_TEMPLATES_DIR, 'wan22-14b-flf2v'), join(dir, 'mine'), { recursive: true });
      const file = join(dir, 'mine', 'template.json');
      const meta = JSON.parse(readFileSync(file, 'utf8'));
      await writeFile(file, JSON.stringify({ ...meta, bind: { ...meta.bind, startImage: undefined } }));
      expect(() => loadTemplates(dir)).toThrow('workflow template mine: bind.endImage needs bind.startImage (a last frame comes with a first one)');
      await writeFile(file, JSON.stringify({ ...meta, generationTypes: ['FIRST_AND_LAST_FRAMES_2_VIDEO', 'TEXT_2_VIDEO'] }));
      expect(() => loadTemplates(dir)).toThrow(
        'workflow template mine: generationTypes: a template with bind.endImage renders only FIRST_AND_LAST_FRAMES_2_VIDEO',
      );
      await writeFile(file, JSON.stringify({ ...meta, bind: { ...meta.bind, endImage: ['99', 'image'] } }));
      expect(() => loadTemplates(dir)).toThrow('workflow template mine: bind.endImage names 99.image, which the workflow lacks');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('first and last frame on ComfyUI', () => {
  it('uploads both images as longshot-<taskId>-0/-1, binds them into the two LoadImage nodes and renders from the first to the last', async () => {
    const id = await submit('official', {
      prompt: 'the red wall turns blue',
      generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO',
      image_urls: [`${images.url}/first.png`, `${images.url}/last.png`],
    });
    const data = await waitForTask(t, 'veo-3-1', id);
    expect(data.state, JSON.stringify(data)).toBe('success');
    const first = old.uploads.find((u) => u.asked === `longshot-${id}-0.png`);
    const last = old.uploads.find((u) => u.asked === `longshot-${id}-1.png`);
    expect(first && last, JSON.stringify(old.uploads.map((u) => u.asked))).toBeTruthy();
    const sent = old.prompts.get(id);
    expect(sent['80']).toEqual({ class_type: 'LoadImage', inputs: { image: first!.name } });
    expect(sent['89']).toEqual({ class_type: 'LoadImage', inputs: { image: last!.name } });
    expect(sent['81'].inputs).toMatchObject({ start_image: ['80', 0], end_image: ['89', 0], width: 1280, height: 720, length: 81 });
    expect(sent['90'].inputs.text).toBe('the red wall turns blue');
    expect(old.framesFrom.get(id)).toEqual({ start: first!.name, end: last!.name });

    // The result opens on the red picture and closes on the blue one.
    const path = join(t.dataDir, 'comfy-flf.mp4');
    await writeFile(path, Buffer.from(await (await fetch(JSON.parse(data.resultJson).resultUrls[0])).arrayBuffer()));
    const p = await probe(path);
    expect(p.video).toMatchObject({ codec: 'h264', width: 1280, height: 720, fps: 24 });
    expect(p.audio).toMatchObject({ codec: 'aac' });
    expect(Math.abs(p.durationSec - 81 / 16)).toBeLessThanOrEqual(0.1);
    const [r0, g0, b0] = meanRgb(await frameAt(path, 0));
    expect(r0).toBeGreaterThan(200);
    expect(Math.max(g0, b0)).toBeLessThan(40);
    const [r1, g1, b1] = meanRgb(await frameAt(path, p.video.frames - 1));
    expect(b1).toBeGreaterThan(200);
    expect(Math.max(r1, g1)).toBeLessThan(40);
  });

  it('sends one image to the start-image template of the same engine, not the first-last-frame one', async () => {
    const id = await submit('official', {
      prompt: 'a red wall at dusk',
      generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO',
      image_urls: [`${images.url}/first.png`],
    });
    const data = await waitForTask(t, 'veo-3-1', id);
    expect(data.state, JSON.stringify(data)).toBe('success');
    const sent = old.prompts.get(id);
    expect(sent['55'].class_type).toBe('Wan22ImageToVideoLatent');
    expect(old.uploads.filter((u) => u.asked.startsWith(`longshot-${id}-`)).map((u) => u.asked)).toEqual([`longshot-${id}-0.png`]);
  });

  it('makes only the engine that lists the template unavailable when a 14B file is missing, naming it', async () => {
    expect(t.service.deps.health.standing('lacking')).toMatchObject({
      available: false,
      reason: `ComfyUI lacks model diffusion_models/${LOW} (template wan22-14b-flf2v)`,
    });
    // The same ComfyUI serves an engine with the default templates, which need no 14B file.
    expect(t.service.deps.health.standing('plain').available).toBe(true);
    const before = await balance();
    const id = await submit('auto', {
      prompt: 'from red to blue',
      generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO',
      image_urls: [`${images.url}/first.png`, `${images.url}/last.png`],
    });
    const data = await waitForTask(t, 'veo-3-1', id);
    expect(data).toMatchObject({ state: 'failed', failCode: 'UPSTREAM_ERROR' });
    expect(data.failMsg).toMatch(/lacking is unavailable/);
    expect(lacking.uploads.some((u) => u.asked.includes(id))).toBe(false);
    expect(await balance()).toBe(before);
  });
});

describe('cancel on ComfyUI', () => {
  it('cancels through POST /api/jobs/{id}/cancel on a core with the jobs API, running and waiting prompts alike', async () => {
    const before = await balance();
    const a = await submit('value', { prompt: 'a windmill turning fake:hold' });
    await running(newer, a);
    const b = await submit('value', { prompt: 'a second windmill fake:hold' });
    await until(async () => (newer.prompts.has(b) ? true : undefined), 'the second prompt to queue');

    // The waiting one first: it leaves the queue without ever running.
    const waiting = await t.api('POST', `/api/v1/tasks/${b}/cancel`);
    expect(waiting.body.data).toMatchObject({ taskId: b, state: 'failed', failCode: 'CANCELLED' });
    await until(async () => (newer.jobCancels.includes(b) ? true : undefined), 'the cancel of the waiting prompt');
    const queue = await (await fetch(`${newer.url}/queue`)).json();
    expect(queue.queue_pending.map((q: unknown[]) => q[1])).not.toContain(b);

    const res = await t.api('POST', `/api/v1/tasks/${a}/cancel`);
    expect(res.body.data).toMatchObject({ taskId: a, state: 'failed', failCode: 'CANCELLED' });
    await until(async () => (newer.jobCancels.includes(a) ? true : undefined), 'the cancel of the running prompt');
    // An interrupted prompt is `cancelled` in the jobs API (comfy_execution/jobs.py).
    await until(async () => ((await (await fetch(`${newer.url}/api/jobs/${a}`)).json()).status === 'cancelled' ? true : undefined), 'the prompt to stop');
    expect(newer.interrupts).toEqual([]);
    expect(newer.queueDeletes).toEqual([]);
    expect(await balance()).toBe(before);
  });

  it('falls back to /interrupt and /queue {delete} on a core without it', async () => {
    const before = await balance();
    const id = await submit('official', { prompt: 'a lighthouse blinking fake:hold' });
    await running(old, id);
    const res = await t.api('POST', `/api/v1/tasks/${id}/cancel`);
    expect(res.body.data).toMatchObject({ taskId: id, state: 'failed', failCode: 'CANCELLED' });
    await until(async () => (old.queueDeletes.includes(id) ? true : undefined), 'the queue delete');
    expect(old.interrupts).toContainEqual({ prompt_id: id });
    expect(old.jobCancels).toEqual([]);
    expect(await balance()).toBe(before);
  });
});
