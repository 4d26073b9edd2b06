import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { GENERATION_TYPES, MODELS } from '../../domain/models.js';
import type { Engine, EngineCapabilities, EngineRunContext, RenderJob, RenderOutcome } from '../engine.js';
import { FfmpegAbortedError, FfmpegError, runFfmpeg } from '../ffmpeg.js';
import { type RenderContext, RenderFailure } from './context.js';
import { imageInputArgs } from './images.js';
import { renderExtend } from './render-extend.js';
import { renderGenerate } from './render-generate.js';
import { cleanWatermarkText } from './watermark.js';

export interface LocalEngineOptions {
  ffmpegPath: string;
  /** A TTF file for watermarks (use `defaultFontPath()`). */
  fontPath: string;
  /** Parent of the per-render temp dirs. Created if missing. */
  tmpDir: string;
  /** x264 threads, default 2. Part of the output: keep it fixed across a deployment. */
  threads?: number;
}

const CAPABILITIES: EngineCapabilities = {
  models: MODELS,
  generationTypes: GENERATION_TYPES,
  extendsForeignSources: true,
  // An abort kills ffmpeg (SIGKILL) and removes the partial files: nothing runs on after a cancel.
  cancelsRunningWork: true,
  // ffmpeg's own output time against the known duration of each step (step-progress.ts).
  reportsProgress: true,
};

/** The longest watermark the contract allows, in code points. */
const MAX_WATERMARK = 64;

/**
 * The built-in `local` engine: a deterministic procedural renderer on ffmpeg. It is not AI; it
 * turns prompt words and the seed into palettes, motion and sound (see docs/local-engine.md) so
 * that the service can be developed, tested and demonstrated without an upstream.
 *
 * `render` never throws for failures it understands (bad input, unreadable image or source,
 * ffmpeg faults): it returns an `EngineFailure`. When `signal` fires it kills ffmpeg, removes its
 * temp files and the partial outputs, and rejects with an `AbortError`.
 */
/** x264 threads of every Longshot encode unless configured: part of the bitstream, so fixed. */
export const DEFAULT_X264_THREADS = 2;

export function createLocalEngine(options: LocalEngineOptions): Engine {
  const threads = options.threads ?? DEFAULT_X264_THREADS;
  return {
    name: 'local',
    capabilities: CAPABILITIES,
    async render(job: RenderJob, signal: AbortSignal, run?: EngineRunContext): Promise<RenderOutcome> {
      if (signal.aborted) throw abortError(signal);
      const workDir = join(options.tmpDir, `local-${job.taskId.replace(/[^A-Za-z0-9_-]/g, '_')}-${randomBytes(4).toString('hex')}`);
      const ctx: RenderContext = { ffmpegPath: options.ffmpegPath, fontPath: options.fontPath, threads, workDir, signal, progress: run?.progress };
      let succeeded = false;
      try {
        const problem = validate(job);
        if (problem !== null) return { ok: false, failCode: 'INVALID_PARAMETER', message: problem, retryable: false };
        await mkdir(workDir, { recursive: true });
        const cleanJob: RenderJob = { ...job, watermark: cleanWatermarkText(job.watermark) };
        const result = job.model === 'veo-3-1-extend' ? await renderExtend(ctx, cleanJob) : await renderGenerate(ctx, cleanJob);
        succeeded = true;
        return result;
      } catch (err) {
        if (signal.aborted || err instanceof FfmpegAbortedError) throw abortError(signal);
        if (err instanceof RenderFailure) {
          return { ok: false, failCode: err.failCode, message: err.message, retryable: err.retryable };
        }
        if (err instanceof FfmpegError && err.exitCode !== null && job.images.length > 0) {
          const bad = await firstUndecodableImage(options.ffmpegPath, job, signal).catch(() => null);
          if (signal.aborted) throw abortError(signal);
          if (bad !== null) {
            return { ok: false, failCode: 'UNSUPPORTED_FORMAT', message: `image ${bad + 1} cannot be decoded as ${job.images[bad]?.mime}`, retryable: false };
          }
        }
        // The message reaches clients as failMsg: keep it short and free of local paths.
        const detail = (err instanceof Error ? err.message : String(err)).split(options.tmpDir).join('<tmp>');
        return { ok: false, failCode: 'INTERNAL_ERROR', message: `local render failed: ${detail}`.slice(0, 300), retryable: true };
      } finally {
        await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
        if (!succeeded) {
          await rm(job.outVideoPath, { force: true }).catch(() => undefined);
          await rm(job.outPosterPath, { force: true }).catch(() => undefined);
        }
      }
    },
  };
}

function abortError(signal: AbortSignal): Error {
  if (signal.reason instanceof Error) return signal.reason;
  const err = new Error('render aborted');
  err.name = 'AbortError';
  return err;
}

/** Checks what the engine relies on; returns a sentence naming the problem, or null. */
function validate(job: RenderJob): string | null {
  if (job.model === 'veo-3-1-extend') {
    if (job.source === null) return 'an extend job needs its source video';
  } else {
    if (job.generationType === 'TEXT_2_VIDEO' && job.images.length > 0) return 'TEXT_2_VIDEO takes no images';
    if (job.generationType === 'FIRST_AND_LAST_FRAMES_2_VIDEO' && (job.images.length < 1 || job.images.length > 2)) {
      return 'FIRST_AND_LAST_FRAMES_2_VIDEO needs 1 or 2 images';
    }
    if (job.generationType === 'REFERENCE_2_VIDEO') {
      if (job.images.length < 1 || job.images.length > 3) return 'REFERENCE_2_VIDEO needs 1 to 3 images';
      if (job.aspectRatio !== '16:9') return 'REFERENCE_2_VIDEO is 16:9 only';
    }
  }
  if (!Number.isInteger(job.seed) || job.seed < 0 || job.seed > 0xffffffff) return 'seed must be an integer 0..4294967295';
  if (job.watermark !== null && [...job.watermark].length > MAX_WATERMARK) return `watermark is longer than ${MAX_WATERMARK} characters`;
  return null;
}

/** Index of the first image ffmpeg cannot decode with the declared type, or null. */
async function firstUndecodableImage(ffmpegPath: string, job: RenderJob, signal: AbortSignal): Promise<number | null> {
  for (const [index, image] of job.images.entries()) {
    try {
      await runFfmpeg(ffmpegPath, ['-v', 'error', '-xerror', ...imageInputArgs(image), '-frames:v', '1', '-f', 'null', '-'], signal);
    } catch (err) {
      // Only a decoder's refusal counts; ffmpeg that cannot even start says nothing of the image.
      if (err instanceof FfmpegError && err.exitCode !== null) return index;
      throw err;
    }
  }
  return null;
}
