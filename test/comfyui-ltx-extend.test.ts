import { readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILT_IN_TEMPLATES_DIR, bindWorkflow, loadTemplates, missingParts, nodeTypes } from '../src/engines/comfyui/template.js';
import { comfyServiceEnv, type FakeComfy, startFakeComfy } from './support/fake-comfyui.js';
import { frameAt, frameHashes, meanAbsDiff, probe } from './support/media.js';
import { startTestService, type TestService, waitForTask } from './support/service.js';

/**
 * The LTX-Video continuation from the source's last frames (docs/comfyui.md, LTX-Video
 * continuation): the template against the stored object_info and the loader's checks, and an
 * extension through the API on the fake ComfyUI, which renders the LTXVAddGuide's frames where
 * the node puts them and honours LTXVCropGuides.
 */
const OBJECT_INFO = JSON.parse(readFileSync(new URL('./support/comfyui-object-info.json', import.meta.url), 'utf8')) as Record<string, any>;
const CKPT = 'ltx-video-2b-v0.9.5.safetensors';
const T5 = 't5xxl_fp16.safetensors';
const templates = loadTemplates(BUILT_IN_TEMPLATES_DIR);
const extend = templates.get('ltxv-extend')!;

describe('the shipped ltxv-extend template', () => {
  it('uses only nodes and inputs of the stored object_info, binds 9 source frames and renders extensions only', () => {
    expect(extend).toMatchObject({ family: 'ltxv', byDefault: false, generationTypes: [] });
    expect(extend.shape.guideFrames).toBe(9);
    expect(extend.bind.sourceFrames).toHaveLength(9);
    expect(nodeTypes(extend)).toEqual(expect.arrayContaining(['LTXVAddGuide', 'LTXVCropGuides', 'ImageBatch', 'LoadImage', 'EmptyLTXVLatentVideo']));
    for (const [id, node] of Object.entries(extend.workflow)) {
      const def = OBJECT_INFO[node.class_type]?.input;
      expect(def, `node ${id}: ${node.class_type} is not in the stored object_info`).toBeDefined();
      for (const name of Object.keys(def.required)) expect(node.inputs, `node ${id} lacks ${name}`).toHaveProperty(name);
      for (const name of Object.keys(node.inputs)) expect({ ...def.required, ...def.optional }, `node ${id}: ${name}`).toHaveProperty(name);
    }
    // The sampler reads the guided latent; the decoder reads it with the guide's latents cropped.
    const w = extend.workflow;
    const guide = Object.entries(w).find(([, n]) => n.class_type === 'LTXVAddGuide')![0];
    const crop = Object.entries(w).find(([, n]) => n.class_type === 'LTXVCropGuides')![0];
    expect(w['3']!.inputs).toMatchObject({ positive: [guide, 0], negative: [guide, 1], latent_image: [guide, 2] });
    expect(w[crop]!.inputs).toMatchObject({ latent: ['3', 0] });
    expect(w['8']!.inputs.samples).toEqual([crop, 2]);
    expect(w[guide]!.inputs).toMatchObject({ frame_idx: 0, strength: 1 });
    expect(
      missingParts(
        [extend],
        OBJECT_INFO,
        new Map([
          ['checkpoints', [CKPT]],
          ['text_encoders', [T5]],
        ]),
      ),
    ).toEqual([]);
    // 7 s of new frames after the 9 guide frames: 9 + 168 = 177 (8·22 + 1).
    const bound = bindWorkflow(extend, { taskId: 't', prompt: 'p', seed: 1, aspectRatio: '16:9' }, { sourceFrames: 'abcdefghi'.split(''), seconds: 7 });
    expect(bound.shape).toEqual({ width: 832, height: 480, frames: 177, fps: 24 });
    expect(extend.bind.sourceFrames!.map(([id, input]) => bound.workflow[id]!.inputs[input])).toEqual('abcdefghi'.split(''));
  });

  it('refuses a template whose source frames do not fit, naming the field', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'comfy-ltx-extend-'));
    try {
      const write = async (change: (meta: any) => void): Promise<void> => {
        await rm(join(dir, 'mine'), { recursive: true, force: true });
        await cp(join(BUILT_IN_TEMPLATES_DIR, 'ltxv-extend'), join(dir, 'mine'), { recursive: true });
        const meta = JSON.parse(readFileSync(join(dir, 'mine', 'template.json'), 'utf8'));
        change(meta);
        await writeFile(join(dir, 'mine', 'template.json'), JSON.stringify(meta));
      };
      await write((m) => (m.shape.guideFrames = 8));
      expect(() => loadTemplates(dir)).toThrow('workflow template mine: shape.guideFrames must be 8n+1 (the frames a guide clip keeps)');
      await write((m) => (m.shape.guideFrames = 17));
      expect(() => loadTemplates(dir)).toThrow('shape.guideFrames is 17 but bind.sourceFrames names 9 inputs');
      await write((m) => m.bind.sourceFrames.push(['99', 'image']));
      expect(() => loadTemplates(dir)).toThrow('bind.sourceFrames[9] names 99.image, which the workflow lacks');
      await write((m) => (m.generationTypes = ['TEXT_2_VIDEO']));
      expect(() => loadTemplates(dir)).toThrow('generationTypes must be [] for a template with bind.sourceFrames (it renders extensions only)');
      await write((m) => (m.bind.startImage = ['80', 'image']));
      expect(() => loadTemplates(dir)).toThrow('bind.sourceFrames cannot come with bind.startImage');
      await write((m) => delete m.bind.sourceFrames);
      expect(() => loadTemplates(dir)).toThrow('generationTypes must list some of');
      await write((m) => {
        delete m.bind.sourceFrames;
        m.generationTypes = ['TEXT_2_VIDEO'];
      });
      expect(() => loadTemplates(dir)).toThrow('shape.guideFrames needs bind.sourceFrames');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('an extension continued from the last frames with LTX-Video', () => {
  let comfy: FakeComfy;
  let t: TestService;

  beforeAll(async () => {
    comfy = await startFakeComfy();
    comfy.models.set('checkpoints', [CKPT]);
    comfy.models.set('text_encoders', [...comfy.models.get('text_encoders')!, T5]);
    t = await startTestService(
      // `guided` continues from the last frames; `single` (no ltxv-extend) from the last frame;
      // `both` lists the one-image template first and still takes the guided continuation.
      comfyServiceEnv(
        {
          guided: { type: 'comfyui', baseUrl: comfy.url, templates: ['ltxv-t2v', 'ltxv-extend'] },
          single: { type: 'comfyui', baseUrl: comfy.url, templates: ['ltxv-t2v', 'ltxv-i2v'] },
          both: { type: 'comfyui', baseUrl: comfy.url, templates: ['ltxv-t2v', 'ltxv-i2v', 'ltxv-extend'] },
        },
        'official=guided;value=single;auto=both',
      ),
    );
  });

  afterAll(async () => {
    await t?.close();
    await comfy?.close();
  });

  const submit = async (model: string, body: object): Promise<string> => {
    const res = await t.api('POST', `/api/v1/generateTask/${model}`, { body });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.data.taskId;
  };
  const download = async (data: any, name: string): Promise<string> => {
    const file = join(t.dataDir, name);
    await writeFile(file, Buffer.from(await (await fetch(JSON.parse(data.resultJson).resultUrls[0])).arrayBuffer()));
    return file;
  };
  const source = async (provider: string): Promise<{ data: any; path: string }> => {
    const data = await waitForTask(t, 'veo-3-1', await submit('veo-3-1', { provider, input: { prompt: 'a kite in the wind', mode: 'fast', seed: 5 } }));
    expect(data.state, JSON.stringify(data)).toBe('success');
    return { data, path: await download(data, `source-${data.taskId}.mp4`) };
  };

  it("uploads the source's last 9 frames in order, and the result is the source untouched followed by 7 s", async () => {
    const src = await source('official');
    const id = await submit('veo-3-1-extend', { provider: 'official', input: { taskId: src.data.taskId, prompt: 'the kite climbs' } });
    const data = await waitForTask(t, 'veo-3-1-extend', id);
    expect(data.state, JSON.stringify(data)).toBe('success');

    const sent = comfy.prompts.get(id);
    expect(sent['70']).toMatchObject({ class_type: 'EmptyLTXVLatentVideo', inputs: { width: 832, height: 480, length: 177 } });
    expect(sent['6'].inputs.text).toBe('the kite climbs');
    const uploads = Array.from({ length: 9 }, (_, i) => comfy.uploads.find((u) => u.asked === `longshot-${id}-tail-${i}.png`)!);
    expect(uploads.every(Boolean)).toBe(true);
    expect(comfy.uploads.some((u) => u.asked === `longshot-${id}-last.png`)).toBe(false);
    expect(extend.bind.sourceFrames!.map(([node]) => sent[node].inputs.image)).toEqual(uploads.map((u) => u.name));
    // The guide the sampler saw: the nine uploads, in order, at frame 0, cropped before decoding.
    expect(comfy.guidesFrom.get(id)).toEqual({ files: uploads.map((u) => u.name), frameIdx: 0, cropped: true });

    // Upload i is the source's frame n-9+i: closest to it, not to its neighbours (testsrc2 moves every frame).
    const s = await probe(src.path);
    const n = s.video.frames;
    for (const [i, u] of uploads.entries()) {
      const png = join(t.dataDir, `tail-${i}.png`);
      await writeFile(png, u.bytes);
      const sentFrame = await frameAt(png, 0);
      const own = meanAbsDiff(sentFrame, await frameAt(src.path, n - 9 + i));
      expect(own, `upload ${i}`).toBeLessThan(2);
      if (i > 0) expect(own).toBeLessThan(meanAbsDiff(sentFrame, await frameAt(src.path, n - 10 + i)));
    }

    const result = await download(data, 'ltx-guided.mp4');
    const out = await probe(result);
    expect(out.video).toMatchObject({ codec: 'h264', width: s.video.width, height: s.video.height, fps: 24 });
    expect(out.audio).toMatchObject({ codec: 'aac' });
    expect(out.video.frames).toBe(n + 7 * 24);
    expect(Math.abs(out.durationSec - (s.durationSec + 7))).toBeLessThanOrEqual(0.1);
    expect(await frameHashes(result, { to: n })).toEqual(await frameHashes(src.path, { to: n }));
    // The render opens with the guide re-rendered (the source's frames n-9…n-1); those were cut, so
    // the frame after the seam is not the first guide frame again. (Measured: about 16 when cut, as
    // far as any unrelated test frame; about 7, the re-encodes' loss, when the guide is left in.)
    const seam = await frameAt(result, n);
    const firstGuide = await frameAt(join(t.dataDir, 'tail-0.png'), 0);
    expect(meanAbsDiff(seam, firstGuide)).toBeGreaterThan(12);
  });

  it('prefers the guided continuation over the one-image template on an engine with both, and the engine without it keeps the last frame', async () => {
    const src = await source('auto');
    const both = await submit('veo-3-1-extend', { provider: 'auto', input: { taskId: src.data.taskId, prompt: 'the kite dives' } });
    const single = await submit('veo-3-1-extend', { provider: 'value', input: { taskId: src.data.taskId, prompt: 'the kite dives' } });
    const [a, b] = await Promise.all([waitForTask(t, 'veo-3-1-extend', both), waitForTask(t, 'veo-3-1-extend', single)]);
    expect(a.state, JSON.stringify(a)).toBe('success');
    expect(b.state, JSON.stringify(b)).toBe('success');
    expect(Object.values<any>(comfy.prompts.get(both)).some((node) => node.class_type === 'LTXVAddGuide')).toBe(true);
    expect(comfy.guidesFrom.get(both)?.files).toHaveLength(9);
    const sent = comfy.prompts.get(single);
    expect(sent['77']).toMatchObject({ class_type: 'LTXVImgToVideo', inputs: { length: 169 } });
    expect(sent['78'].inputs.image).toBe(comfy.uploads.find((u) => u.asked === `longshot-${single}-last.png`)!.name);
    expect(comfy.guidesFrom.has(single)).toBe(false);
    const n = (await probe(src.path)).video.frames;
    for (const data of [a, b]) expect((await probe(await download(data, `ext-${data.taskId}.mp4`))).video.frames).toBe(n + 7 * 24);
  });
});
