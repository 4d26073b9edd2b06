import { readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeReferences } from '../src/engines/comfyui/references.js';
import { BUILT_IN_TEMPLATES_DIR, bindWorkflow, imageCount, loadTemplates, takesImages } from '../src/engines/comfyui/template.js';
import { resolveFfmpeg } from '../src/engines/ffmpeg.js';
import { comfyServiceEnv, type FakeComfy, startFakeComfy } from './support/fake-comfyui.js';
import { type ImageServer, startImageServer } from './support/image-server.js';
import { frameAt, meanRgb, probe, type RgbFrame } from './support/media.js';
import { startTestService, type TestService, waitForTask } from './support/service.js';

/**
 * The `comfyui` engine's references (`REFERENCE_2_VIDEO`, docs/comfyui.md): the Wan 2.1 VACE 14B
 * template with `WanVaceToVideo` and `TrimVideoLatent`, against fake ComfyUIs. One reference is
 * uploaded as sent, 2–3 are composed side by side on a white canvas into one picture (the node
 * reads only the first image of its batch); either way one task-scoped upload is bound into the
 * LoadImage feeding `reference_image`, and the fake renders that picture into the frames, so the
 * result shows it was used. The fake also makes a forgotten trim visible (4 more frames).
 */
const VACE = 'wan2.1_vace_14B_fp16.safetensors';
const R2V = 'wan21-vace-14b-r2v';
const OBJECT_INFO = JSON.parse(readFileSync(new URL('./support/comfyui-object-info.json', import.meta.url), 'utf8')) as Record<string, any>;

/** A fake holding the 5B text files and the VACE 14B files (unless `withoutVace`). */
async function fakeWithVace(withoutVace = false): Promise<FakeComfy> {
  const fake = await startFakeComfy();
  fake.models.set('diffusion_models', ['wan2.2_ti2v_5B_fp16.safetensors', ...(withoutVace ? [] : [VACE])]);
  fake.models.set('vae', ['wan2.2_vae.safetensors', 'wan_2.1_vae.safetensors']);
  return fake;
}

let gpu: FakeComfy;
let lacking: FakeComfy;
let images: ImageServer;
let workflows: string;
let t: TestService;

beforeAll(async () => {
  [gpu, lacking, images] = await Promise.all([
    fakeWithVace(),
    fakeWithVace(true),
    startImageServer({ 'red.png': 'color=c=red:s=640x360', 'green.jpg': 'color=c=green:s=360x640', 'blue.png': 'color=c=blue:s=640x360' }),
  ]);
  // An operator's copy of the template whose VAEDecode reads the sampler directly, without the trim.
  workflows = await mkdtemp(join(tmpdir(), 'comfy-r2v-'));
  await cp(join(BUILT_IN_TEMPLATES_DIR, R2V), join(workflows, 'vace-untrimmed'), { recursive: true });
  const file = join(workflows, 'vace-untrimmed', 'workflow.json');
  const wf = JSON.parse(readFileSync(file, 'utf8'));
  delete wf['118'];
  wf['119'].inputs.samples = ['108', 0];
  await writeFile(file, JSON.stringify(wf));
  t = await startTestService(
    comfyServiceEnv(
      {
        vace: { type: 'comfyui', baseUrl: gpu.url, templates: ['wan22-ti2v-5b', R2V] },
        plain: { type: 'comfyui', baseUrl: gpu.url },
        lacking: { type: 'comfyui', baseUrl: lacking.url, templates: [R2V] },
        untrimmed: { type: 'comfyui', baseUrl: gpu.url, workflows, templates: ['vace-untrimmed'] },
      },
      'official=vace;value=plain;auto=lacking,untrimmed',
      { LONGSHOT_ALLOW_PRIVATE_IMAGE_URLS: 'true' },
    ),
  );
});

afterAll(async () => {
  await t?.close();
  await Promise.all([gpu?.close(), lacking?.close(), images?.close()]);
  if (workflows) await rm(workflows, { recursive: true, force: true });
});

async function submit(provider: string, imageNames: string[], prompt = 'the objects on a table, slowly turning'): Promise<string> {
  const res = await t.api('POST', '/api/v1/generateTask/veo-3-1', {
    body: { provider, input: { prompt, mode: 'fast', generationType: 'REFERENCE_2_VIDEO', image_urls: imageNames.map((n) => `${images.url}/${n}`) } },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data.taskId;
}

async function download(data: { resultJson: string }, name: string): Promise<string> {
  const path = join(t.dataDir, name);
  await writeFile(path, Buffer.from(await (await fetch(JSON.parse(data.resultJson).resultUrls[0])).arrayBuffer()));
  return path;
}

const balance = async (): Promise<number> => (await t.api('GET', '/api/v1/apikeys/current-balance')).body.data;

/** The mean colour of a rectangle, rounded: enough to tell red, green, blue and white apart after H.264. */
const colour = (f: RgbFrame, x: number, y: number, w: number, h: number): [number, number, number] =>
  meanRgb(f, { x, y, w, h }).map(Math.round) as [number, number, number];
const isRed = ([r, g, b]: number[]) => r! > 200 && g! < 50 && b! < 50;
const isGreen = ([r, g, b]: number[]) => g! > 100 && r! < 50 && b! < 50;
const isBlue = ([r, g, b]: number[]) => b! > 200 && r! < 50 && g! < 50;
const isWhite = (c: number[]) => c.every((v) => v > 230);

/** Red, green and blue composed in three cells of 426 px: each fits 394×688 and is centred in its cell. */
function expectThreeCells(f: RgbFrame): void {
  expect(isRed(colour(f, 100, 300, 200, 100)), 'red in the left cell').toBe(true);
  expect(isGreen(colour(f, 540, 100, 200, 500)), 'green in the middle cell').toBe(true);
  expect(isBlue(colour(f, 950, 300, 200, 100)), 'blue in the right cell').toBe(true);
  expect(isWhite(colour(f, 100, 40, 200, 150)), 'white above the red one').toBe(true);
  expect(isWhite(colour(f, 950, 560, 200, 120)), 'white below the blue one').toBe(true);
}

describe('the shipped Wan 2.1 VACE 14B reference template', () => {
  it('binds one reference picture, renders only REFERENCE_2_VIDEO, is not used by default and is never the continuation', () => {
    const r2v = loadTemplates(BUILT_IN_TEMPLATES_DIR).get(R2V)!;
    expect(r2v).toMatchObject({ byDefault: false, generationTypes: ['REFERENCE_2_VIDEO'], family: 'wan' });
    expect(r2v.bind.referenceImage).toEqual(['73', 'image']);
    expect(r2v.bind.startImage).toBeUndefined();
    expect(r2v.workflow['109']!.class_type).toBe('WanVaceToVideo');
    // The trim after sampling takes the node's trim_latent (output 3), as Comfy-Org's template does.
    expect(r2v.workflow['118']).toEqual({ class_type: 'TrimVideoLatent', inputs: { samples: ['108', 0], trim_amount: ['109', 3] } });
    expect(r2v.workflow['119']!.inputs.samples).toEqual(['118', 0]);
    expect(r2v.models).toEqual({
      diffusion_models: [VACE],
      text_encoders: ['umt5_xxl_fp8_e4m3fn_scaled.safetensors'],
      vae: ['wan_2.1_vae.safetensors'],
    });
    expect(imageCount(r2v)).toBe(0);
    expect([0, 1, 2, 3, 4].map((n) => takesImages(r2v, n))).toEqual([false, true, true, true, false]);
    const job = { taskId: 't1', prompt: 'p', seed: 7 };
    const bound = bindWorkflow(r2v, { ...job, aspectRatio: '16:9' }, { referenceImage: 'ref.png' });
    expect(bound.shape).toEqual({ width: 1280, height: 720, frames: 81, fps: 16 });
    expect([bound.workflow['73']!.inputs.image, bound.workflow['108']!.inputs.seed, bound.workflow['105']!.inputs.text]).toEqual(['ref.png', 7, 'p']);
    expect(bindWorkflow(r2v, { ...job, aspectRatio: '9:16' }, { referenceImage: 'ref.png' }).shape).toMatchObject({ width: 720, height: 1280 });
    expect(() => bindWorkflow(r2v, { ...job, aspectRatio: '16:9' })).toThrow(`workflow template ${R2V} needs a reference picture`);
  });

  it('validates against the transcribed object_info: every node known, every required input given, every input declared, every link typed', () => {
    const wf = loadTemplates(BUILT_IN_TEMPLATES_DIR).get(R2V)!.workflow;
    for (const [id, node] of Object.entries(wf)) {
      const def = OBJECT_INFO[node.class_type];
      expect(def, `node ${id} ${node.class_type}`).toBeDefined();
      const declared: Record<string, any[]> = { ...def.input.required, ...def.input.optional };
      for (const name of Object.keys(def.input.required)) expect(node.inputs, `${node.class_type} ${id} needs ${name}`).toHaveProperty(name);
      for (const [name, value] of Object.entries(node.inputs)) {
        expect(declared[name], `${node.class_type} ${id} declares ${name}`).toBeDefined();
        if (!Array.isArray(value)) continue;
        const from = wf[String(value[0])]!;
        expect(OBJECT_INFO[from.class_type].output[value[1] as number], `${node.class_type} ${id}.${name} from ${from.class_type}`).toBe(declared[name]![0]);
      }
    }
  });

  it('refuses a template claiming references without bind.referenceImage, with more types, or with a start image', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'comfy-r2v-bad-'));
    try {
      await cp(join(BUILT_IN_TEMPLATES_DIR, R2V), join(dir, 'mine'), { recursive: true });
      const file = join(dir, 'mine', 'template.json');
      const meta = JSON.parse(readFileSync(file, 'utf8'));
      const expectRefused = async (changed: object, message: string): Promise<void> => {
        await writeFile(file, JSON.stringify({ ...meta, ...changed }));
        expect(() => loadTemplates(dir)).toThrow(`workflow template mine: ${message}`);
      };
      await expectRefused({ bind: { ...meta.bind, referenceImage: undefined } }, 'generationTypes: REFERENCE_2_VIDEO needs bind.referenceImage');
      await expectRefused(
        { generationTypes: ['REFERENCE_2_VIDEO', 'TEXT_2_VIDEO'] },
        'generationTypes: a template with bind.referenceImage renders only REFERENCE_2_VIDEO',
      );
      await expectRefused(
        { bind: { ...meta.bind, startImage: ['73', 'image'] } },
        'bind.referenceImage cannot come with bind.startImage (references are not a first frame)',
      );
      await expectRefused({ bind: { ...meta.bind, referenceImage: ['99', 'image'] } }, 'bind.referenceImage names 99.image, which the workflow lacks');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('composes references in a column for a portrait video', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'comfy-r2v-compose-'));
    try {
      const pic = (name: string) => ({ path: join(images.dir, name), mime: 'image/png' as const, width: 640, height: 360 });
      const out = join(dir, 'refs.png');
      await composeReferences(resolveFfmpeg(), [pic('red.png'), pic('blue.png')], [720, 1280], out, AbortSignal.timeout(30_000));
      const f = await frameAt(out, 0);
      expect([f.width, f.height]).toEqual([720, 1280]);
      expect(isRed(colour(f, 100, 250, 500, 100))).toBe(true);
      expect(isBlue(colour(f, 100, 890, 500, 100))).toBe(true);
      expect(isWhite(colour(f, 100, 20, 500, 90))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('references on ComfyUI', () => {
  it('uploads one reference as longshot-<taskId>-ref.png, binds it into reference_image and renders 81 frames at 16 fps, trimmed', async () => {
    const prompt = 'a red cube rolls across a wooden table';
    const id = await submit('official', ['red.png'], prompt);
    const data = await waitForTask(t, 'veo-3-1', id);
    expect(data.state, JSON.stringify(data)).toBe('success');
    const mine = gpu.uploads.filter((u) => u.asked.includes(id));
    expect(mine.map((u) => [u.asked, u.overwrite])).toEqual([[`longshot-${id}-ref.png`, 'true']]);
    const sent = gpu.prompts.get(id);
    expect(sent['73']).toEqual({ class_type: 'LoadImage', inputs: { image: mine[0]!.name } });
    expect(sent['109'].inputs).toMatchObject({ reference_image: ['73', 0], width: 1280, height: 720, length: 81, strength: 1 });
    expect(sent['105'].inputs.text).toBe(prompt);
    expect(sent['68'].inputs.fps).toBe(16);
    expect(gpu.referenceFrom.get(id)).toBe(mine[0]!.name);

    const path = await download(data, 'comfy-r2v-one.mp4');
    const p = await probe(path);
    expect(p.video).toMatchObject({ codec: 'h264', width: 1280, height: 720, fps: 24 });
    expect(p.audio).toMatchObject({ codec: 'aac' });
    expect(Math.abs(p.durationSec - 81 / 16)).toBeLessThanOrEqual(0.1);
    // The 16:9 reference fills the 16:9 frame: the picture the fake rendered is the uploaded one.
    for (const i of [0, p.video.frames - 1]) expect(isRed(colour(await frameAt(path, i), 0, 0, 1280, 720))).toBe(true);
  });

  it('composes three references side by side on white into one upload and renders that picture', async () => {
    const id = await submit('official', ['red.png', 'green.jpg', 'blue.png']);
    const data = await waitForTask(t, 'veo-3-1', id);
    expect(data.state, JSON.stringify(data)).toBe('success');
    const mine = gpu.uploads.filter((u) => u.asked.includes(id));
    expect(mine.map((u) => u.asked)).toEqual([`longshot-${id}-ref.png`]);
    expect(gpu.prompts.get(id)['73'].inputs.image).toBe(mine[0]!.name);
    expect(gpu.referenceFrom.get(id)).toBe(mine[0]!.name);

    // The uploaded picture: the video's size, the references in order, each fitted without cropping.
    const png = join(t.dataDir, 'comfy-r2v-refs.png');
    await writeFile(png, mine[0]!.bytes);
    const sentPicture = await frameAt(png, 0);
    expect([sentPicture.width, sentPicture.height]).toEqual([1280, 720]);
    expectThreeCells(sentPicture);

    const path = await download(data, 'comfy-r2v-three.mp4');
    const p = await probe(path);
    expect(p.video).toMatchObject({ codec: 'h264', width: 1280, height: 720, fps: 24 });
    expect(Math.abs(p.durationSec - 81 / 16)).toBeLessThanOrEqual(0.1);
    expectThreeCells(await frameAt(path, 0));
    expectThreeCells(await frameAt(path, p.video.frames - 1));
  });

  it('still refuses references on an engine that does not list the template, with the existing message', async () => {
    expect(t.service.deps.engines.byName('plain')!.capabilities.generationTypes).not.toContain('REFERENCE_2_VIDEO');
    expect(t.service.deps.engines.byName('vace')!.capabilities).toMatchObject({ models: ['veo-3-1'], extendsForeignSources: false });
    expect(t.service.deps.engines.byName('vace')!.capabilities.generationTypes).toEqual(['TEXT_2_VIDEO', 'REFERENCE_2_VIDEO']);
    const before = await balance();
    const id = await submit('value', ['red.png']);
    const data = await waitForTask(t, 'veo-3-1', id);
    expect(data).toMatchObject({ state: 'failed', failCode: 'UPSTREAM_ERROR', failMsg: 'no engine is configured for provider value' });
    expect(gpu.uploads.some((u) => u.asked.includes(id))).toBe(false);
    expect(await balance()).toBe(before);
  });

  it('makes the listing engine unavailable when the VACE model is missing, naming it; the route passes it over', async () => {
    expect(t.service.deps.health.standing('lacking')).toMatchObject({
      available: false,
      reason: `ComfyUI lacks model diffusion_models/${VACE} (template ${R2V})`,
    });
    expect(t.service.deps.health.standing('untrimmed').available).toBe(true);
    const id = await submit('auto', ['blue.png']);
    const data = await waitForTask(t, 'veo-3-1', id);
    expect(data.state, JSON.stringify(data)).toBe('success');
    expect(lacking.uploads.some((u) => u.asked.includes(id))).toBe(false);
    expect(gpu.uploads.some((u) => u.asked === `longshot-${id}-ref.png`)).toBe(true);
    // The next engine's copy has no TrimVideoLatent: the reference's latent frame is decoded too,
    // 4 frames more (85 at 16 fps), which is why the shipped template trims it.
    const p = await probe(await download(data, 'comfy-r2v-untrimmed.mp4'));
    expect(Math.abs(p.durationSec - 85 / 16)).toBeLessThanOrEqual(0.1);
  });
});
