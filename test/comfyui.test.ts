import { readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILT_IN_TEMPLATES_DIR, loadTemplates, missingParts, nodeTypes, snapFrames, snapSize, TemplateError } from '../src/engines/comfyui/template.js';
import { parseEngineSpecs } from '../src/engines/engine-specs.js';
import { comfyServiceEnv, type FakeComfy, startFakeComfy } from './support/fake-comfyui.js';
import { killWhileWaiting } from './support/kill-resume.js';
import { probe } from './support/media.js';
import { startTestService, type TestService, waitForTask } from './support/service.js';
import { until } from './support/until.js';

/**
 * The `comfyui` engine (docs/comfyui.md) against a fake ComfyUI (test/support/fake-comfyui.ts)
 * that renders the bound shape with ffmpeg: the shipped Wan 2.2 TI2V 5B template, progress from
 * the WebSocket, a restart that loses the job, node errors at submit, a missing model found at
 * start, and cancel through `/interrupt`.
 */
const OBJECT_INFO = JSON.parse(readFileSync(new URL('./support/comfyui-object-info.json', import.meta.url), 'utf8')) as Record<string, any>;
const UNET = 'wan2.2_ti2v_5B_fp16.safetensors';

let comfy: FakeComfy;
let t: TestService;

const env = (): Record<string, string> => comfyServiceEnv({ gpu: { type: 'comfyui', baseUrl: comfy.url } }, 'official=gpu;value=local;auto=gpu');

beforeAll(async () => {
  comfy = await startFakeComfy();
  t = await startTestService(env());
});

afterAll(async () => {
  await t?.close();
  await comfy?.close();
});

async function submit(prompt: string, aspect_ratio = '16:9'): Promise<string> {
  const res = await t.api('POST', '/api/v1/generateTask/veo-3-1', {
    body: { provider: 'official', input: { prompt, mode: 'fast', aspect_ratio, seed: 4242 } },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data.taskId;
}

const balance = async (): Promise<number> => (await t.api('GET', '/api/v1/apikeys/current-balance')).body.data;
const status = async (id: string): Promise<any> => (await t.api('GET', `/api/v1/statusTask/veo-3-1?taskId=${id}`)).body.data;
/** Resolves once the fake has sent progress for the task's prompt (it is running on the "GPU"). */
const running = (id: string) => until(async () => ((comfy.progressSent.get(id) ?? 0) > 0 ? true : undefined), 'the prompt to run');

describe('the shipped Wan 2.2 TI2V 5B template', () => {
  it('uses only nodes and inputs of the stored object_info, and names its model files', () => {
    const templates = [...loadTemplates(BUILT_IN_TEMPLATES_DIR).values()];
    expect(templates.map((x) => x.name)).toContain('wan22-ti2v-5b');
    for (const tpl of templates) {
      expect(missingParts([tpl], OBJECT_INFO, new Map(Object.entries(tpl.models)))).toEqual([]);
      for (const [id, node] of Object.entries(tpl.workflow)) {
        const def = OBJECT_INFO[node.class_type].input;
        for (const name of Object.keys(def.required)) expect(node.inputs, `${tpl.name} node ${id} lacks ${name}`).toHaveProperty(name);
        for (const name of Object.keys(node.inputs)) expect({ ...def.required, ...def.optional }, `${tpl.name} node ${id}: ${name}`).toHaveProperty(name);
      }
    }
    const wan = templates.find((x) => x.name === 'wan22-ti2v-5b')!;
    expect(nodeTypes(wan)).toContain('Wan22ImageToVideoLatent');
    expect(missingParts([wan], OBJECT_INFO, new Map())).toEqual([
      `model diffusion_models/${UNET} (template wan22-ti2v-5b)`,
      'model text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors (template wan22-ti2v-5b)',
      'model vae/wan2.2_vae.safetensors (template wan22-ti2v-5b)',
    ]);
  });
});

describe('template arithmetic and checks', () => {
  it('snaps frame counts to step·n+1 and sizes to the multiple', () => {
    expect([snapFrames(121, 4), snapFrames(120, 4), snapFrames(83, 4), snapFrames(100, 8), snapFrames(1, 4)]).toEqual([121, 121, 85, 97, 5]);
    expect([snapSize(1280, 32), snapSize(700, 32), snapSize(10, 16)]).toEqual([1280, 704, 16]);
  });

  it("refuses an operator's template whose binding names an input the workflow lacks", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'comfy-workflows-'));
    try {
      await cp(join(BUILT_IN_TEMPLATES_DIR, 'wan22-ti2v-5b'), join(dir, 'mine'), { recursive: true });
      const meta = JSON.parse(readFileSync(join(dir, 'mine', 'template.json'), 'utf8'));
      meta.bind.frames = ['55', 'frames'];
      await writeFile(join(dir, 'mine', 'template.json'), JSON.stringify(meta));
      expect(() => loadTemplates(dir)).toThrow(TemplateError);
      expect(() => loadTemplates(dir)).toThrow('workflow template mine: bind.frames names 55.frames, which the workflow lacks');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the comfyui engine', () => {
  it('renders text to video: the bound prompt and seed, 121 frames, 1280×704, the contract MP4, rising progress', async () => {
    comfy.stepMs = 120;
    const prompt = 'a red kite over green dunes';
    const id = await submit(prompt);
    const seen: number[] = [];
    for (;;) {
      const d = await status(id);
      if (d.state === 'success' || d.state === 'failed') break;
      if (typeof d.progress === 'number') seen.push(d.progress);
      await new Promise((r) => setTimeout(r, 100));
    }
    comfy.stepMs = 30;
    const data = await waitForTask(t, 'veo-3-1', id);
    expect(data.state, JSON.stringify(data)).toBe('success');
    const sent = comfy.prompts.get(id);
    expect(sent['6'].inputs.text).toBe(prompt);
    expect(sent['3'].inputs.seed).toBe(4242);
    expect(sent['55'].inputs).toMatchObject({ width: 1280, height: 704, length: 121 });
    const ups = seen.filter((v, i) => i > 0 && v > seen[i - 1]!);
    expect(ups.length, JSON.stringify(seen)).toBeGreaterThanOrEqual(2);
    expect(comfy.historyDeletes).toContain(id);
    expect(comfy.wsClients).toContain(id);

    const file = join(t.dataDir, 'comfy.mp4');
    await writeFile(file, Buffer.from(await (await fetch(JSON.parse(data.resultJson).resultUrls[0])).arrayBuffer()));
    const p = await probe(file);
    expect(p.video).toMatchObject({ codec: 'h264', width: 1280, height: 704, fps: 24, pixFmt: 'yuv420p' });
    expect(p.video.frames).toBe(121);
    expect(p.audio).toMatchObject({ codec: 'aac', sampleRate: 48000, channels: 2 });
    expect(Math.abs(p.durationSec - 121 / 24)).toBeLessThanOrEqual(0.05);
  });

  it('maps 9:16 to the trained 704×1280', async () => {
    const id = await submit('a tall lighthouse at night', '9:16');
    expect((await waitForTask(t, 'veo-3-1', id)).state).toBe('success');
    expect(comfy.prompts.get(id)['55'].inputs).toMatchObject({ width: 704, height: 1280, length: 121 });
  });

  it('fails a job ComfyUI lost in a restart with UPSTREAM_ERROR, refunded, never a success', async () => {
    const before = await balance();
    const id = await submit('a slow river fake:hold');
    await running(id);
    comfy.restart();
    const data = await waitForTask(t, 'veo-3-1', id);
    expect(data).toMatchObject({ state: 'failed', failCode: 'UPSTREAM_ERROR' });
    expect(data.failMsg).toMatch(/the engine lost the job/);
    expect(await balance()).toBe(before);
  });

  it('cancels a running prompt through /interrupt: CANCELLED and refunded', async () => {
    const before = await balance();
    const id = await submit('a windmill turning fake:hold');
    await running(id);
    const res = await t.api('POST', `/api/v1/tasks/${id}/cancel`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.data).toMatchObject({ taskId: id, state: 'failed', failCode: 'CANCELLED' });
    await until(async () => (comfy.interrupts.some((b) => b.prompt_id === id) ? true : undefined), 'the interrupt');
    expect(await balance()).toBe(before);
  });

  it("fails a node error at submit as INVALID_PARAMETER with the node's message", async () => {
    const before = await balance();
    comfy.models.set('diffusion_models', []);
    try {
      const data = await waitForTask(t, 'veo-3-1', await submit('a field of sunflowers'));
      expect(data).toMatchObject({ state: 'failed', failCode: 'INVALID_PARAMETER' });
      expect(data.failMsg).toContain(`UNETLoader 37: Value not in list: unet_name: '${UNET}' not in []`);
      expect(await balance()).toBe(before);
    } finally {
      comfy.models.set('diffusion_models', [UNET]);
    }
  });
});

describe('a worker killed while ComfyUI renders', () => {
  it('resumes the saved prompt after the restart: one prompt, a success', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'longshot-comfy-resume-'));
    const prompt = 'a lantern drifting on a lake';
    const sent = () => [...comfy.prompts.values()].filter((p) => p['6'].inputs.text === prompt).length;
    try {
      const done = await killWhileWaiting(
        { ...env(), LONGSHOT_DATA_DIR: dataDir, LONGSHOT_LEASE_MS: '1500', LONGSHOT_WORKERS: '1', DATABASE_URL: '' },
        comfy,
        { provider: 'official', input: { prompt, mode: 'fast' } },
        sent,
      );
      expect(done.state, JSON.stringify(done)).toBe('success');
      expect(sent()).toBe(1);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('a ComfyUI without the model', () => {
  let other: TestService;
  beforeAll(async () => {
    comfy.models.set('vae', []);
    other = await startTestService(env());
  });
  afterAll(async () => {
    comfy.models.set('vae', ['wan2.2_vae.safetensors']);
    await other?.close();
  });

  it('marks the engine unavailable at start, listing exactly what is missing', async () => {
    const standing = other.service.deps.health.standing('gpu');
    expect(standing.available).toBe(false);
    expect(standing.reason).toBe('ComfyUI lacks model vae/wan2.2_vae.safetensors (templates wan22-ti2v-5b, wan22-ti2v-5b-i2v)');
    const before = (await other.api('GET', '/api/v1/apikeys/current-balance')).body.data;
    const res = await other.api('POST', '/api/v1/generateTask/veo-3-1', { body: { provider: 'official', input: { prompt: 'no vae here', mode: 'fast' } } });
    const data = await waitForTask(other, 'veo-3-1', res.body.data.taskId);
    expect(data).toMatchObject({ state: 'failed', failCode: 'UPSTREAM_ERROR' });
    expect(data.failMsg).toMatch(/gpu is unavailable/);
    expect((await other.api('GET', '/api/v1/apikeys/current-balance')).body.data).toBe(before);
  });
});

describe('a ComfyUI behind a token proxy', () => {
  let guarded: FakeComfy;
  let svc: TestService;
  beforeAll(async () => {
    guarded = await startFakeComfy({ token: 'gpu-s3cret' });
    svc = await startTestService({
      ...env(),
      LONGSHOT_ENGINES: JSON.stringify({
        gpu: { type: 'comfyui', baseUrl: guarded.url, token: 'gpu-s3cret' },
        wrong: { type: 'comfyui', baseUrl: guarded.url, token: 'nope' },
      }),
      LONGSHOT_ROUTES: 'official=gpu;value=wrong;auto=gpu',
    });
  });
  afterAll(async () => {
    await svc?.close();
    await guarded?.close();
  });

  it('sends the token as a bearer on HTTP and the WebSocket; a wrong token makes the engine unavailable', async () => {
    const res = await svc.api('POST', '/api/v1/generateTask/veo-3-1', {
      body: { provider: 'official', input: { prompt: 'a guarded gate', mode: 'fast', aspect_ratio: '9:16' } },
    });
    const id = res.body.data.taskId;
    expect((await waitForTask(svc, 'veo-3-1', id)).state).toBe('success');
    expect(guarded.wsClients).toContain(id);
    const wrong = svc.service.deps.health.standing('wrong');
    expect(wrong.available).toBe(false);
    expect(wrong.reason).toMatch(/^ComfyUI refused the token: HTTP 401/);
  });
});

describe('the comfyui engine spec', () => {
  const parse = (v: unknown) => parseEngineSpecs(JSON.stringify({ gpu: v }), { apiKey: null, baseUrl: 'https://x', modelFast: 'f', modelQuality: 'q' });
  it('takes baseUrl, token, workflows and concurrency', () => {
    const ok = parse({ type: 'comfyui', baseUrl: 'http://gpu-box:8188/', token: 's3cret', concurrency: 2 });
    expect(ok.ok && ok.value.find((e) => e.name === 'gpu')).toEqual({
      name: 'gpu',
      type: 'comfyui',
      baseUrl: 'http://gpu-box:8188',
      token: 's3cret',
      workflows: null,
      concurrency: 2,
    });
  });
  it('refuses a missing baseUrl, a bad concurrency and unknown keys, naming them', () => {
    expect(parse({ type: 'comfyui' })).toEqual({ ok: false, error: expect.stringContaining('"baseUrl"') });
    expect(parse({ type: 'comfyui', baseUrl: 'http://h', concurrency: 0 })).toEqual({ ok: false, error: expect.stringContaining('"concurrency" must be') });
    expect(parse({ type: 'comfyui', baseUrl: 'http://h', apiKey: 'k' })).toEqual({ ok: false, error: expect.stringContaining('unknown setting "apiKey"') });
  });
});
