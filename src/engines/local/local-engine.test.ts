import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audioHashes, audioSamples, frameAt, frameHashes, makeTestImage, meanAbsDiff, meanRgb, probe, type RgbFrame } from '../../../test/support/media.js';
import type { LocalImage, RenderJob, RenderOutcome } from '../engine.js';
import { defaultFontPath, resolveFfmpeg } from '../ffmpeg.js';
import { createLocalEngine } from './local-engine.js';
import { inspectMedia } from './media-info.js';

/**
 * The local engine against the real ffmpeg: every assertion is about the files it writes, as
 * ffprobe and decoded frames see them. Renders are shared between tests (in file order).
 */

const run = promisify(execFile);
let dir = '';
let tmpDir = '';
const engine = () => createLocalEngine({ ffmpegPath: resolveFfmpeg(), fontPath: defaultFontPath(), tmpDir });
const never = new AbortController().signal;

let n = 0;
function job(over: Partial<RenderJob>): RenderJob {
  n += 1;
  return {
    taskId: `task${n}`,
    model: 'veo-3-1',
    mode: 'fast',
    prompt: 'a golden sunset over the desert',
    aspectRatio: '16:9',
    generationType: 'TEXT_2_VIDEO',
    images: [],
    imageUrls: [],
    enableTranslation: false,
    seed: 1,
    watermark: null,
    source: null,
    outVideoPath: join(dir, `out-${n}.mp4`),
    outPosterPath: join(dir, `out-${n}.jpg`),
    ...over,
  };
}

async function render(j: RenderJob): Promise<RenderJob> {
  const outcome: RenderOutcome = await engine().render(j, never);
  expect(outcome, JSON.stringify(outcome)).toMatchObject({ ok: true });
  return j;
}

function extendJob(source: RenderJob, durationMs: number, over: Partial<RenderJob> = {}): RenderJob {
  return job({
    model: 'veo-3-1-extend',
    prompt: 'push in slowly',
    source: { path: source.outVideoPath, durationMs, width: 1280, height: 720, chainDepth: 0 },
    ...over,
  });
}

/** Asserts the delivery format: H.264 yuv420p 24 fps + AAC 48 kHz stereo, and the durations. */
async function expectFormat(path: string, width: number, height: number, seconds: number): Promise<void> {
  const p = await probe(path);
  expect(p.formatName).toContain('mp4');
  expect(p.video).toMatchObject({ codec: 'h264', width, height, pixFmt: 'yuv420p', frames: seconds * 24 });
  expect(p.video.fps).toBeCloseTo(24, 6);
  expect(p.audio).toMatchObject({ codec: 'aac', sampleRate: 48000, channels: 2 });
  expect(Math.abs(p.durationSec - seconds)).toBeLessThanOrEqual(0.1);
  expect(Math.abs(p.video.durationSec - seconds)).toBeLessThanOrEqual(0.1);
  expect(Math.abs((p.audio?.durationSec ?? 0) - seconds)).toBeLessThanOrEqual(0.1);
  // moov before mdat: playable while downloading
  const head = await readFile(path).then((b) => b.subarray(0, 4096).toString('latin1'));
  expect(head.indexOf('moov')).toBeGreaterThan(-1);
  expect(head.indexOf('moov')).toBeLessThan(head.indexOf('mdat') === -1 ? Infinity : head.indexOf('mdat'));
}

async function expectPoster(j: RenderJob, width: number, height: number): Promise<void> {
  const p = await probe(j.outPosterPath);
  expect(p.video).toMatchObject({ codec: 'mjpeg', width, height });
}

const img = (path: string, mime: LocalImage['mime'], width: number, height: number): LocalImage => ({ path, mime, width, height });
let png: LocalImage;
let jpg: LocalImage;
let portrait: LocalImage;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'local-engine-'));
  tmpDir = join(dir, 'tmp');
  // Saved without extensions, as the service stores downloads: the engine must go by MIME type.
  await makeTestImage('testsrc=s=640x480', join(dir, 'a.png'));
  await makeTestImage('mandelbrot=s=1024x768', join(dir, 'b.jpg'));
  // A portrait third image. (WebP never reaches the engine: downloads arrive as sharp's JPEG or PNG.)
  await makeTestImage('smptebars=s=600x900', join(dir, 'c.png'));
  for (const f of ['a.png', 'b.jpg', 'c.png']) await writeFile(join(dir, f.split('.')[0] ?? f), await readFile(join(dir, f)));
  png = img(join(dir, 'a'), 'image/png', 640, 480);
  jpg = img(join(dir, 'b'), 'image/jpeg', 1024, 768);
  portrait = img(join(dir, 'c'), 'image/png', 600, 900);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('local engine: generate', () => {
  let sunset: RenderJob;
  let night: RenderJob;

  it('renders TEXT_2_VIDEO 16:9 as an 8 s 1280×720 H.264/AAC MP4 with a poster', async () => {
    sunset = await render(job({}));
    await expectFormat(sunset.outVideoPath, 1280, 720, 8);
    await expectPoster(sunset, 1280, 720);
    const p = await probe(sunset.outVideoPath);
    expect(p.video.profile).toBe('High');
  });

  it('renders TEXT_2_VIDEO 9:16 as 720×1280', async () => {
    night = await render(job({ prompt: 'night sky over a quiet town', aspectRatio: '9:16' }));
    await expectFormat(night.outVideoPath, 720, 1280, 8);
    await expectPoster(night, 720, 1280);
  });

  it('moves: frames across the clip differ', async () => {
    const hashes = await frameHashes(sunset.outVideoPath);
    expect(new Set(hashes).size).toBeGreaterThan(180);
    const first = await frameAt(sunset.outVideoPath, 0);
    const last = await frameAt(sunset.outVideoPath, 191);
    expect(meanAbsDiff(first, last)).toBeGreaterThan(3);
  });

  it('is deterministic for a seed: same frames and same bytes again, other frames for another seed', async () => {
    const again = await render(job({}));
    expect(await frameHashes(again.outVideoPath)).toEqual(await frameHashes(sunset.outVideoPath));
    expect(await audioHashes(again.outVideoPath)).toEqual(await audioHashes(sunset.outVideoPath));
    expect(await readFile(again.outVideoPath)).toEqual(await readFile(sunset.outVideoPath));

    const other = await render(job({ seed: 2 }));
    const a = await frameHashes(sunset.outVideoPath);
    const b = await frameHashes(other.outVideoPath);
    expect(b.filter((h, i) => h === a[i]).length).toBe(0);
  });

  it('follows the prompt: a sunset is warmer than a night, and the night is darker', async () => {
    const s = meanRgb(await frameAt(sunset.outVideoPath, 96));
    const nt = meanRgb(await frameAt(night.outVideoPath, 96));
    const warmth = (c: number[]) => (c[0] ?? 0) - (c[2] ?? 0);
    const luma = (c: number[]) => 0.2126 * (c[0] ?? 0) + 0.7152 * (c[1] ?? 0) + 0.0722 * (c[2] ?? 0);
    expect(warmth(s)).toBeGreaterThan(warmth(nt) + 30);
    expect(luma(nt)).toBeLessThan(luma(s) * 0.6);
  });

  it('draws a watermark in the bottom-right corner only', async () => {
    const marked = await render(job({ watermark: `Longshot's "demo": 100% \\ {x}, [y]; %{pts}` }));
    await expectFormat(marked.outVideoPath, 1280, 720, 8);
    const a = await frameAt(sunset.outVideoPath, 96);
    const b = await frameAt(marked.outVideoPath, 96);
    expect(meanAbsDiff(a, b, { x: 1280 - 300, y: 720 - 70, w: 260, h: 40 })).toBeGreaterThan(15);
    expect(meanAbsDiff(a, b, { x: 0, y: 0, w: 640, h: 360 })).toBeLessThan(2);
  });

  it('encodes quality mode at a higher quality than fast mode (larger file, same headers)', async () => {
    const quality = await render(job({ mode: 'quality' }));
    await expectFormat(quality.outVideoPath, 1280, 720, 8);
    const [q, f] = await Promise.all([stat(quality.outVideoPath), stat(sunset.outVideoPath)]);
    expect(q.size).toBeGreaterThan(f.size * 1.3);
    // Same SPS/PPS: a quality extension can be joined to a fast source by stream copy.
    const [qi, fi] = await Promise.all([
      inspectMedia(resolveFfmpeg(), quality.outVideoPath, never, true),
      inspectMedia(resolveFfmpeg(), sunset.outVideoPath, never, true),
    ]);
    expect(qi?.video.extradata).toBe(fi?.video.extradata);
  });

  it('renders FIRST_AND_LAST_FRAMES_2_VIDEO with one image as a camera move over it', async () => {
    const j = await render(job({ generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO', images: [png], prompt: 'push in' }));
    await expectFormat(j.outVideoPath, 1280, 720, 8);
    await expectPoster(j, 1280, 720);
    const first = await frameAt(j.outVideoPath, 0);
    const last = await frameAt(j.outVideoPath, 191);
    expect(meanAbsDiff(first, last)).toBeGreaterThan(5); // it moved
  });

  it('renders FIRST_AND_LAST_FRAMES_2_VIDEO with two images, ending on the second', async () => {
    const j = await render(job({ generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO', images: [jpg, portrait], aspectRatio: '9:16' }));
    await expectFormat(j.outVideoPath, 720, 1280, 8);
    const firstImage = await filledImage(jpg.path, 720, 1280);
    const secondImage = await filledImage(portrait.path, 720, 1280);
    const first = await frameAt(j.outVideoPath, 0);
    const last = await frameAt(j.outVideoPath, 191);
    expect(meanAbsDiff(first, firstImage)).toBeLessThan(12);
    expect(meanAbsDiff(last, secondImage)).toBeLessThan(12);
    expect(meanAbsDiff(last, firstImage)).toBeGreaterThan(30);
  });

  it('renders REFERENCE_2_VIDEO with three images', async () => {
    const j = await render(job({ generationType: 'REFERENCE_2_VIDEO', images: [png, jpg, portrait], prompt: 'a forest product showcase' }));
    await expectFormat(j.outVideoPath, 1280, 720, 8);
    await expectPoster(j, 1280, 720);
  });
});

describe('local engine: extend', () => {
  let source: RenderJob;
  let ext: RenderJob;

  beforeAll(async () => {
    source = await render(job({ prompt: 'ocean waves at dusk', seed: 11 }));
  });

  it('appends 7 s to the source without re-encoding it', async () => {
    ext = await render(extendJob(source, 8000));
    await expectFormat(ext.outVideoPath, 1280, 720, 15);
    await expectPoster(ext, 1280, 720);
    const src = await frameHashes(source.outVideoPath);
    expect(src).toHaveLength(192);
    expect(await frameHashes(ext.outVideoPath, { to: 192 })).toEqual(src);
  });

  it('starts the continuation on the source last frame, and keeps moving', async () => {
    const lastOfSource = await frameAt(source.outVideoPath, 191);
    const firstNew = await frameAt(ext.outVideoPath, 192);
    expect(meanAbsDiff(lastOfSource, firstNew)).toBeLessThan(6);
    const later = await frameAt(ext.outVideoPath, 359);
    expect(meanAbsDiff(firstNew, later)).toBeGreaterThan(5);
  });

  it('continues the sound across the seam without a gap or a click', async () => {
    const rate = 48000;
    const s = await audioSamples(ext.outVideoPath, 7.8, 0.4); // the seam is at sample 9600
    expect(s.length).toBe(0.4 * rate);
    const rms = (a: number, b: number) => Math.sqrt(s.subarray(a, b).reduce((acc, x) => acc + x * x, 0) / (b - a));
    const jump = (a: number, b: number) => {
      let max = 0;
      for (let i = a + 1; i < b; i++) max = Math.max(max, Math.abs((s[i] ?? 0) - (s[i - 1] ?? 0)));
      return max;
    };
    const around = [9600 - 2400, 9600 + 2400] as const;
    expect(rms(...around)).toBeGreaterThan(0.5 * Math.min(rms(0, 4800), rms(14400, 19200)));
    expect(jump(...around)).toBeLessThan(2 * Math.max(jump(0, 4800), jump(14400, 19200)) + 0.01);
  });

  it('chains: three extensions make 29 s with the audio in step and every earlier frame kept', async () => {
    const second = await render(extendJob(ext, 15000, { prompt: 'pan left, calmer pacing', mode: 'quality' }));
    await expectFormat(second.outVideoPath, 1280, 720, 22);
    const third = await render(extendJob(second, 22000, { prompt: 'pull back to a wide establishing view' }));
    await expectFormat(third.outVideoPath, 1280, 720, 29);
    const p = await probe(third.outVideoPath);
    expect(Math.abs((p.audio?.durationSec ?? 0) - p.video.durationSec)).toBeLessThan(0.03);
    expect(await frameHashes(third.outVideoPath, { to: 528 })).toEqual(await frameHashes(second.outVideoPath));
  });

  it('draws a watermark over the whole extended video', async () => {
    const marked = await render(extendJob(source, 8000, { watermark: 'LONGSHOT PREVIEW' }));
    await expectFormat(marked.outVideoPath, 1280, 720, 15);
    const region = { x: 1280 - 300, y: 720 - 70, w: 260, h: 40 };
    for (const index of [10, 300]) {
      const plain = await frameAt(ext.outVideoPath, index);
      const withMark = await frameAt(marked.outVideoPath, index);
      expect(meanAbsDiff(plain, withMark, region)).toBeGreaterThan(15);
      expect(meanAbsDiff(plain, withMark, { x: 0, y: 0, w: 640, h: 360 })).toBeLessThan(3);
    }
  });
});

describe('local engine: failures and abort', () => {
  it('reports an image that does not decode as UNSUPPORTED_FORMAT', async () => {
    const bad = join(dir, 'not-an-image');
    await writeFile(bad, 'hello, I am text');
    const j = job({ generationType: 'FIRST_AND_LAST_FRAMES_2_VIDEO', images: [img(bad, 'image/png', 640, 480)] });
    const outcome = await engine().render(j, never);
    expect(outcome).toMatchObject({ ok: false, failCode: 'UNSUPPORTED_FORMAT', retryable: false });
    await expect(stat(j.outVideoPath)).rejects.toThrow();
  });

  it('reports a missing or unreadable source as TASKID_ERROR and bad parameters as INVALID_PARAMETER', async () => {
    const gone = job({ model: 'veo-3-1-extend', source: { path: join(dir, 'gone.mp4'), durationMs: 8000, width: 1280, height: 720, chainDepth: 0 } });
    expect(await engine().render(gone, never)).toMatchObject({ ok: false, failCode: 'TASKID_ERROR', retryable: false });
    const garbage = join(dir, 'garbage.mp4');
    await writeFile(garbage, Buffer.alloc(4096, 7));
    const unreadable = job({ model: 'veo-3-1-extend', source: { path: garbage, durationMs: 8000, width: 1280, height: 720, chainDepth: 0 } });
    expect(await engine().render(unreadable, never)).toMatchObject({ ok: false, failCode: 'TASKID_ERROR', retryable: false });
    const portraitRef = job({ generationType: 'REFERENCE_2_VIDEO', images: [png], aspectRatio: '9:16' });
    expect(await engine().render(portraitRef, never)).toMatchObject({ ok: false, failCode: 'INVALID_PARAMETER', retryable: false });
  });

  it('stops promptly when aborted: ffmpeg killed, temp files and partial outputs removed', async () => {
    const j = job({ mode: 'quality', prompt: 'a fast chase through neon streets' });
    const controller = new AbortController();
    const started = Date.now();
    const pending = engine().render(j, controller.signal);
    await new Promise((r) => setTimeout(r, 700));
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    // Promptly: long before the ~10 s this render takes (a generous bound for a loaded machine).
    expect(Date.now() - started).toBeLessThan(700 + 4000);
    expect(await ffmpegProcessesWriting(j.outVideoPath)).toEqual([]);
    expect(await readdir(tmpDir)).toEqual([]);
    await expect(stat(j.outVideoPath)).rejects.toThrow();
  });
});

/** An image scaled to cover `w`×`h` and centre-cropped, as rgb24 (what a still shot of it looks like). */
async function filledImage(path: string, w: number, h: number): Promise<RgbFrame> {
  const { stdout } = await run(
    resolveFfmpeg(),
    [
      '-v',
      'error',
      '-i',
      path,
      '-vf',
      `scale=${w}:${h}:force_original_aspect_ratio=increase,crop=${w}:${h}`,
      '-frames:v',
      '1',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-',
    ],
    { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
  );
  return { width: w, height: h, data: stdout };
}

/** Pids of live processes whose command line mentions `path` (Linux /proc). */
async function ffmpegProcessesWriting(path: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(path)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}
