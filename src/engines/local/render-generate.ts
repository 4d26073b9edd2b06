import { GENERATE_SECONDS } from '../../domain/models.js';
import type { RenderedVideo, RenderJob } from '../engine.js';
import { addAudioBed, SAMPLE_RATE } from './audio-bed.js';
import { addOrbs, addPlasma, type Frame } from './background.js';
import { frameSizeFor, type RenderContext, RenderFailure } from './context.js';
import { FPS } from './encode.js';
import { GraphBuilder } from './graph.js';
import { firstAndLastScene, referenceScene } from './image-scenes.js';
import { encodeFinal } from './output.js';
import { hash32, Rng } from './prng.js';
import { sceneLook } from './scene.js';
import { StepProgress } from './step-progress.js';

/**
 * `veo-3-1`: an 8-second clip. TEXT_2_VIDEO is the procedural scene alone; the image types put
 * the caller's stills in it (a camera move over one or two stills, or floating panels).
 */
export async function renderGenerate(ctx: RenderContext, job: RenderJob): Promise<RenderedVideo> {
  const { width, height } = frameSizeFor(job.aspectRatio);
  const frame: Frame = { width, height, fps: FPS, frames: GENERATE_SECONDS * FPS };
  const look = sceneLook(job.prompt, job.seed);
  // A separate stream of draws for layout, so adding images never changes the scene's look.
  const rng = new Rng(hash32(`layout:${job.prompt}`, job.seed >>> 0));
  const g = new GraphBuilder();
  const inputs: string[] = [];

  let video: string;
  switch (job.generationType) {
    case 'TEXT_2_VIDEO': {
      video = addOrbs(g, look, frame, addPlasma(g, look, frame));
      break;
    }
    case 'FIRST_AND_LAST_FRAMES_2_VIDEO': {
      if (job.images.length < 1 || job.images.length > 2) {
        throw new RenderFailure('INVALID_PARAMETER', 'FIRST_AND_LAST_FRAMES_2_VIDEO needs 1 or 2 images', false);
      }
      video = firstAndLastScene(g, inputs, look, frame, job.images, rng);
      break;
    }
    case 'REFERENCE_2_VIDEO': {
      if (job.images.length < 1 || job.images.length > 3) {
        throw new RenderFailure('INVALID_PARAMETER', 'REFERENCE_2_VIDEO needs 1 to 3 images', false);
      }
      if (job.aspectRatio !== '16:9') {
        throw new RenderFailure('INVALID_PARAMETER', 'REFERENCE_2_VIDEO is 16:9 only', false);
      }
      video = referenceScene(g, inputs, look, frame, job.images, rng);
      break;
    }
  }
  const audio = addAudioBed(g, look.audio, { samples: GENERATE_SECONDS * SAMPLE_RATE, fadeInSec: 0.03 });

  // One ffmpeg run writes the whole clip: its output time against the clip's length.
  const steps = new StepProgress(ctx.progress, { encode: 1 });
  await encodeFinal(ctx, {
    onProgress: steps.track('encode', GENERATE_SECONDS),
    inputs,
    graph: g,
    video,
    audio,
    width,
    height,
    mode: job.mode,
    watermark: job.watermark,
    poster: { frame: Math.floor(frame.frames / 2) },
    fps: frame.fps,
    outVideoPath: job.outVideoPath,
    outPosterPath: job.outPosterPath,
  });
  return { ok: true, durationMs: GENERATE_SECONDS * 1000, width, height };
}
