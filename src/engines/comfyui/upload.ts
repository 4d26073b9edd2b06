import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { guardedRequest } from '../../net/guarded-http.js';
import type { EngineFailure, LocalImage, RenderJob } from '../engine.js';
import { isTransient } from '../google-http.js';
import type { JsonTarget } from '../guarded-json.js';
import type { TailCut } from '../splice/extend-by-tail.js';
import { engineFailure } from '../upstream-job.js';
import { lastFrame, lastFrames } from './continuation.js';
import { composeReferences } from './references.js';
import { boundSize, imageCount, type Template } from './template.js';

const UPLOAD_TIMEOUT_MS = 60_000;

/**
 * Puts an image into ComfyUI's input folder (`POST /upload/image`, multipart: `image`,
 * `overwrite`, `type`) and answers the name a `LoadImage` node takes (`subfolder/name` when
 * ComfyUI filed it in one). `overwrite` makes a retried task replace its own earlier upload
 * rather than pile up renamed copies. `what` names the picture in a failure.
 */
async function uploadImage(
  t: JsonTarget,
  bytes: Buffer,
  name: string,
  mime: string,
  signal: AbortSignal,
  what = 'the start image',
): Promise<string | EngineFailure> {
  const boundary = `longshot-${randomBytes(12).toString('hex')}`;
  const field = (n: string, value: string): string => `--${boundary}\r\nContent-Disposition: form-data; name="${n}"\r\n\r\n${value}\r\n`;
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="${name}"\r\nContent-Type: ${mime}\r\n\r\n`, 'utf8'),
    bytes,
    Buffer.from(`\r\n${field('overwrite', 'true')}${field('type', 'input')}--${boundary}--\r\n`, 'utf8'),
  ]);
  let why = '';
  for (let attempt = 0; ; attempt++) {
    signal.throwIfAborted();
    const res = await guardedRequest(`${t.baseUrl}/upload/image`, {
      method: 'POST',
      headers: {
        ...(t.authorization ? { authorization: t.authorization } : {}),
        accept: 'application/json',
        'content-type': `multipart/form-data; boundary=${boundary}`,
      },
      body,
      timeoutMs: UPLOAD_TIMEOUT_MS,
      maxResponseBytes: 64 * 1024,
      allowPrivate: t.allowPrivate,
      requireHttps: false,
      signal,
    });
    if (!res.ok) {
      signal.throwIfAborted();
      why = res.message;
    } else if (res.status === 200) {
      let answer: { name?: unknown; subfolder?: unknown } | null = null;
      try {
        answer = JSON.parse(res.body.toString('utf8'));
      } catch {
        // not JSON: refused below
      }
      if (typeof answer?.name !== 'string' || answer.name === '')
        return engineFailure('UPSTREAM_ERROR', 'ComfyUI answered the image upload without a file name');
      return typeof answer.subfolder === 'string' && answer.subfolder !== '' ? `${answer.subfolder}/${answer.name}` : answer.name;
    } else {
      why = `HTTP ${res.status}`;
      if (!isTransient(res.status)) return engineFailure('UPSTREAM_ERROR', `uploading ${what} to ComfyUI failed: ${why}`);
    }
    if (attempt >= t.retries) return engineFailure('UPSTREAM_ERROR', `uploading ${what} to ComfyUI failed: ${why}`);
    await sleep(t.retryMs * 2 ** attempt, undefined, { signal });
  }
}

/**
 * The template's images on ComfyUI under task-scoped names (a retry of the same task overwrites
 * its own): the job's images in order (`-0`, `-1`: a start and a last frame), an extension's
 * last frame, its last frames (`-tail-0` … oldest first) for a template that binds
 * `sourceFrames`, or the one reference picture (`-ref`). Empty for a template without images.
 */
export async function uploadTemplateImages(
  target: JsonTarget,
  ffmpegPath: string,
  job: RenderJob,
  t: Template,
  cut: TailCut | null,
  workDir: string,
  signal: AbortSignal,
): Promise<string[] | EngineFailure> {
  if (t.bind.referenceImage) {
    const name = await uploadReference(target, ffmpegPath, job, t, workDir, signal);
    return typeof name === 'string' ? [name] : name;
  }
  if (cut && t.bind.sourceFrames) return uploadSourceFrames(target, ffmpegPath, job, t, cut, workDir, signal);
  if (imageCount(t) === 0) return [];
  if (cut) {
    const png = join(workDir, 'comfy-last-frame.png');
    await lastFrame(ffmpegPath, job.source!.path, png, signal);
    const name = await uploadImage(target, await readFile(png), `longshot-${job.taskId}-last.png`, 'image/png', signal);
    return typeof name === 'string' ? [name] : name;
  }
  const names: string[] = [];
  for (const [i, image] of job.images.slice(0, imageCount(t)).entries()) {
    const name = await uploadAsSent(target, image, `longshot-${job.taskId}-${i}`, signal);
    if (typeof name !== 'string') return name;
    names.push(name);
  }
  return names;
}

/** A client's image as Longshot cleaned it (PNG or JPEG), under `base` and its extension. */
async function uploadAsSent(target: JsonTarget, image: LocalImage, base: string, signal: AbortSignal, what?: string): Promise<string | EngineFailure> {
  const ext = image.mime === 'image/png' ? 'png' : 'jpg';
  return uploadImage(target, await readFile(image.path), `${base}.${ext}`, image.mime, signal, what);
}

/**
 * The references as the one picture `WanVaceToVideo` reads (it encodes only the first image of
 * its batch): a single reference as the client sent it, 2–3 composed side by side on a white
 * canvas of the video's size (docs/comfyui.md, references).
 */
async function uploadReference(
  target: JsonTarget,
  ffmpegPath: string,
  job: RenderJob,
  t: Template,
  workDir: string,
  signal: AbortSignal,
): Promise<string | EngineFailure> {
  const what = 'the reference picture';
  if (job.images.length === 1) return uploadAsSent(target, job.images[0]!, `longshot-${job.taskId}-ref`, signal, what);
  const png = join(workDir, 'comfy-references.png');
  try {
    await composeReferences(ffmpegPath, job.images, boundSize(t, job.aspectRatio), png, signal);
    return await uploadImage(target, await readFile(png), `longshot-${job.taskId}-ref.png`, 'image/png', signal, what);
  } finally {
    await rm(png, { force: true });
  }
}

/** An extension's last `shape.guideFrames` frames, one PNG upload each, in order (docs/comfyui.md, LTX-Video continuation). */
async function uploadSourceFrames(
  target: JsonTarget,
  ffmpegPath: string,
  job: RenderJob,
  t: Template,
  cut: TailCut,
  workDir: string,
  signal: AbortSignal,
): Promise<string[] | EngineFailure> {
  const count = t.bind.sourceFrames!.length;
  const dir = join(workDir, 'comfy-source-frames');
  try {
    const files = await lastFrames(ffmpegPath, job.source!.path, count, cut.facts.video.fps || t.shape.fps, dir, signal);
    if (files.length < count)
      return engineFailure(
        'TASKID_ERROR',
        `the source video is too short to continue with ${t.name} (it needs its last ${count} frames, it has ${files.length})`,
      );
    const names: string[] = [];
    for (const [i, file] of files.entries()) {
      const name = await uploadImage(target, await readFile(file), `longshot-${job.taskId}-tail-${i}.png`, 'image/png', signal, 'the source frames');
      if (typeof name !== 'string') return name;
      names.push(name);
    }
    return names;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
