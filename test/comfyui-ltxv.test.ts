import { readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILT_IN_TEMPLATES_DIR, bindWorkflow, loadTemplates, missingParts, nodeTypes, snapFrames, snapSize } from '../src/engines/comfyui/template.js';
import { parseEngineSpecs } from '../src/engines/engine-specs.js';
import { comfyServiceEnv, type FakeComfy, startFakeComfy } from './support/fake-comfyui.js';
import { type ImageServer, startImageServer } from './support/image-server.js';
import { frameAt, meanRgb, probe } from './support/media.js';
import { startTestService, type TestService, waitForTask } from './support/service.js';

/**
 * The shipped LTX-Video template (docs/comfyui.md): its nodes against the stored object_info, the
 * family's arithmetic (8n+1 frames, multiples of 32) enforced by the loader, and an engine that
 * names it in `templates` rendering through the API on the fake ComfyUI, while an engine that
 * names none keeps the Wan templates.
 */
const OBJECT_INFO = JSON.parse(readFileSync(new URL('./support/comfyui-object-info.json', import.meta.url), 'utf8')) as Record<string, any>;
const CKPT = 'ltx-video-2b-v0.9.5.safetensors';
const T5 = 't5xxl_fp16.safetensors';
const templates = loadTemplates(BUILT_IN_TEMPLATES_DIR);
const ltx = templates.get('ltxv-t2v')!;

describe('the shipped LTX-Video template', () => {
  it('uses only nodes and inputs of the stored object_info and names its model files', () => {
    expect(ltx).toMatchObject({ family: 'ltxv', byDefault: false, generationTypes: ['TEXT_2_VIDEO'] });
    expect(nodeTypes(ltx)).toEqual(expect.arrayContaining(['EmptyLTXVLatentVideo', 'LTXVConditioning', 'ModelSamplingLTXV', 'CheckpointLoaderSimple']));
    for (const [id, node] of Object.entries(ltx.workflow)) {
      const def = OBJECT_INFO[node.class_type]?.input;
      expect(def, `node ${id}: ${node.class_type} is not in the stored object_info`).toBeDefined();
      for (const name of Object.keys(def.required)) expect(node.inputs, `node ${id} lacks ${name}`).toHaveProperty(name);
      for (const name of Object.keys(node.inputs)) expect({ ...def.required, ...def.optional }, `node ${id}: ${name}`).toHaveProperty(name);
    }
    expect(ltx.workflow['2']!.inputs.type).toBe('ltxv');
    expect(missingParts([ltx], OBJECT_INFO, new Map())).toEqual([
      `model checkpoints/${CKPT} (template ltxv-t2v)`,
      `model text_encoders/${T5} (template ltxv-t2v)`,
    ]);
    expect(templates.get('wan22-ti2v-5b')).toMatchObject({ family: 'wan', byDefault: true });
  });

  it('binds 8n+1 frames and sizes in multiples of 32 for both aspect ratios', () => {
    expect([snapFrames(97, 8), snapFrames(100, 8), snapFrames(120, 8), snapFrames(3, 8)]).toEqual([97, 97, 121, 9]);
    expect([snapSize(832, 32), snapSize(500, 32), snapSize(710, 32), snapSize(720, 32)]).toEqual([832, 512, 704, 736]);
    const job = { taskId: 't1', prompt: 'p', seed: 7 };
    const wide = bindWorkflow(ltx, { ...job, aspectRatio: '16:9' });
    const tall = bindWorkflow(ltx, { ...job, aspectRatio: '9:16' });
    expect(wide.shape).toEqual({ width: 832, height: 480, frames: 97, fps: 24 });
    expect(tall.shape).toEqual({ width: 480, height: 832, frames: 97, fps: 24 });
    expect(wide.workflow['70']!.inputs).toMatchObject({ width: 832, height: 480, length: 97 });
    // A continuation asks for at least `seconds`: 5 s → 5·24+1 = 121 (8·15+1); 4.5 s → 109 → 113 (8·14+1).
    expect(bindWorkflow(ltx, { ...job, aspectRatio: '16:9' }, { seconds: 5 }).shape.frames).toBe(121);
    expect(bindWorkflow(ltx, { ...job, aspectRatio: '16:9' }, { seconds: 4.5 }).shape.frames).toBe(113);
  });

  it("refuses a template whose shape breaks its family's arithmetic, naming the field", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'comfy-ltx-'));
    try {
      const write = async (change: (meta: any) => void): Promise<void> => {
        await rm(join(dir, 'mine'), { recursive: true, force: true });
        await cp(join(BUILT_IN_TEMPLATES_DIR, 'ltxv-t2v'), join(dir, 'mine'), { recursive: true });
        const meta = JSON.parse(readFileSync(join(dir, 'mine', 'template.json'), 'utf8'));
        change(meta);
        await writeFile(join(dir, 'mine', 'template.json'), JSON.stringify(meta));
      };
      await write((m) => (m.shape.frameStep = 4));
      expect(() => loadTemplates(dir)).toThrow('workflow template mine: shape.frameStep must be 8 for family ltxv (frames 8n+1)');
      await write((m) => (m.shape.sizeMultiple = 16));
      expect(() => loadTemplates(dir)).toThrow('shape.sizeMultiple must be a multiple of 32 for family ltxv');
      await write((m) => (m.shape.frames = 121 - 4));
      expect(() => loadTemplates(dir)).toThrow('shape.frames must be 8n+1 for family ltxv');
      await write((m) => (m.shape.sizes['16:9'] = [848, 480]));
      expect(() => loadTemplates(dir)).toThrow('shape.sizes["16:9"] must be multiples of 32');
      await write((m) => (m.family = 'hunyuan'));
      expect(() => loadTemplates(dir)).toThrow('template.json family must be one of wan, ltxv');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('takes a `templates` list on a comfyui engine and refuses a bad one', () => {
    const parse = (v: unknown) => parseEngineSpecs(JSON.stringify({ gpu: v }), { apiKey: null, baseUrl: 'https://x', modelFast: 'f', modelQuality: 'q' });
    const ok = parse({ type: 'comfyui', baseUrl: 'http://h', templates: [' ltxv-t2v '] });
    expect(ok.ok && ok.value.find((e) => e.name === 'gpu')).toMatchObject({ templates: ['ltxv-t2v'] });
    expect(parse({ type: 'comfyui', baseUrl: 'http://h', templates: 'ltxv-t2v' })).toEqual({ ok: false, error: 'engine "gpu": "templates" must be a array' });
    expect(parse({ type: 'comfyui', baseUrl: 'http://h', templates: [] })).toEqual({
      ok: false,
      error: expect.stringContaining('"templates" must be a non-empty list'),
    });
  });
});

describe('an engine configured for LTX-Video', () => {
  let comfy: FakeComfy;
  let images: ImageServer;
  let t: TestService;

  beforeAll(async () => {
    [comfy, images] = await Promise.all([startFakeComfy(), startImageServer()]);
    comfy.models.set('checkpoints', [CKPT]);
    comfy.models.set('text_encoders', [...comfy.models.get('text_encoders')!, T5]);
    t = await startTestService(
      // `ltx` names the LTX text template; `wan` names none and keeps the default (Wan) ones;
      // `ltxi` names both LTX templates, so it also takes a start image and extensions.
      comfyServiceEnv(
        {
          ltx: { type: 'comfyui', baseUrl: comfy.url, templates: ['ltxv-t2v'] },
          wan: { type: 'comfyui', baseUrl: comfy.url },
          ltxi: { type: 'comfyui', baseUrl: comfy.url, templates: ['ltxv-t2v', 'ltxv-i2v'] },
        },
        'official=ltx;value=wan;auto=ltxi',
        { LONGSHOT_ALLOW_PRIVATE_IMAGE_URLS: 'true' },
      ),
    );
  });

  afterAll(async () => {
    await t?.close();
    await Promise.all([comfy?.close(), images?.close()]);
  });

  const submit = async (provider: string, prompt: string, aspect_ratio: string): Promise<string> => {
    const res = await t.api('POST', '/api/v1/generateTask/veo-3-1', { body: { provider, input: { prompt, mode: 'fast', aspect_ratio, seed: 99 } } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.data.taskId;
  };

  it('renders text to video with the LTX workflow: 97 frames of 832×480 at 24 fps, its bound values seen by ComfyUI', async () => {
    const prompt = 'a paper boat drifting down a rainy gutter';
    const id = await submit('official', prompt, '16:9');
    const data = await waitForTask(t, 'veo-3-1', id);
    expect(data.state, JSON.stringify(data)).toBe('success');
    const sent = comfy.prompts.get(id);
    expect(sent['1']).toEqual({ class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: CKPT } });
    expect(sent['2'].inputs).toMatchObject({ clip_name: T5, type: 'ltxv' });
    expect(sent['6'].inputs.text).toBe(prompt);
    expect(sent['7'].inputs.text).toBe(ltx.negative);
    expect(sent['3'].inputs.seed).toBe(99);
    expect(sent['70']).toMatchObject({ class_type: 'EmptyLTXVLatentVideo', inputs: { width: 832, height: 480, length: 97 } });
    expect(sent['57'].inputs.fps).toBe(24);
    expect(sent['58'].inputs.filename_prefix).toBe(`longshot/${id}`);
    expect(Object.values<any>(sent).some((n) => n.class_type === 'Wan22ImageToVideoLatent')).toBe(false);

    const file = join(t.dataDir, 'ltx.mp4');
    await writeFile(file, Buffer.from(await (await fetch(JSON.parse(data.resultJson).resultUrls[0])).arrayBuffer()));
    const p = await probe(file);
    expect(p.video).toMatchObject({ codec: 'h264', width: 832, height: 480, fps: 24 });
    expect(p.video.frames).toBe(97);
    expect(Math.abs(p.durationSec - 97 / 24)).toBeLessThanOrEqual(0.05);
  });

  it('maps 9:16 to 480×832 on LTX, while the engine that names no templates sends the Wan workflow', async () => {
    const tall = await submit('official', 'a tall waterfall', '9:16');
    expect((await waitForTask(t, 'veo-3-1', tall)).state).toBe('success');
    expect(comfy.prompts.get(tall)['70'].inputs).toMatchObject({ width: 480, height: 832, length: 97 });
    const wan = await submit('value', 'a tall waterfall', '9:16');
    expect((await waitForTask(t, 'veo-3-1', wan)).state).toBe('success');
    expect(comfy.prompts.get(wan)['55']).toMatchObject({ class_type: 'Wan22ImageToVideoLatent', inputs: { width: 704, height: 1280, length: 121 } });
  });

  it('renders image to video with LTXVImgToVideo: the uploaded start image is the first frame of 97 at 832×480', async () => {
    const res = await t.api('POST', '/api/v1/generateTask/veo-3-1', {
      body: {
        provider: 'auto',
        input: { prompt: 'the red wall crumbles', mode: 'fast', generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO', image_urls: [`${images.url}/first.png`] },
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const id = res.body.data.taskId;
    const data = await waitForTask(t, 'veo-3-1', id);
    expect(data.state, JSON.stringify(data)).toBe('success');
    const upload = comfy.uploads.find((u) => u.asked === `longshot-${id}-0.png`)!;
    expect(upload).toBeDefined();
    const sent = comfy.prompts.get(id);
    expect(sent['78']).toEqual({ class_type: 'LoadImage', inputs: { image: upload.name } });
    expect(sent['77']).toMatchObject({ class_type: 'LTXVImgToVideo', inputs: { image: ['78', 0], width: 832, height: 480, length: 97 } });
    expect(comfy.framesFrom.get(id)).toEqual({ start: upload.name, end: null });
    const file = join(t.dataDir, 'ltx-i2v.mp4');
    await writeFile(file, Buffer.from(await (await fetch(JSON.parse(data.resultJson).resultUrls[0])).arrayBuffer()));
    const p = await probe(file);
    expect(p.video).toMatchObject({ codec: 'h264', width: 832, height: 480, fps: 24 });
    expect(p.video.frames).toBe(97);
    const [r, g, b] = meanRgb(await frameAt(file, 0));
    expect(r).toBeGreaterThan(200);
    expect(Math.max(g, b)).toBeLessThan(40);
  });

  it("extends on an engine with the LTX image template: 169 frames rendered from the source's last frame", async () => {
    const source = await waitForTask(t, 'veo-3-1', await submit('auto', 'a kite in the wind', '16:9'));
    expect(source.state, JSON.stringify(source)).toBe('success');
    const res = await t.api('POST', '/api/v1/generateTask/veo-3-1-extend', {
      body: { provider: 'auto', input: { taskId: source.taskId, prompt: 'the kite climbs' } },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const id = res.body.data.taskId;
    const data = await waitForTask(t, 'veo-3-1-extend', id);
    expect(data.state, JSON.stringify(data)).toBe('success');
    const sent = comfy.prompts.get(id);
    expect(sent['77']).toMatchObject({ class_type: 'LTXVImgToVideo', inputs: { width: 832, height: 480, length: 169 } });
    expect(sent['78'].inputs.image).toBe(comfy.uploads.find((u) => u.asked === `longshot-${id}-last.png`)!.name);
    const file = join(t.dataDir, 'ltx-extended.mp4');
    await writeFile(file, Buffer.from(await (await fetch(JSON.parse(data.resultJson).resultUrls[0])).arrayBuffer()));
    expect((await probe(file)).video.frames).toBe(97 + 7 * 24);
  });

  it('refuses to start an engine whose `templates` names no template', async () => {
    await expect(
      startTestService({
        LONGSHOT_ENGINES: JSON.stringify({ gpu: { type: 'comfyui', baseUrl: comfy.url, templates: ['ltxv-t2v', 'nope'] } }),
        LONGSHOT_ROUTES: 'official=gpu',
      }),
    ).rejects.toThrow('engine gpu in LONGSHOT_ENGINES: "templates" names nope, which is not a workflow template');
  });
});
