import { addAudioBed, SAMPLE_RATE } from './audio-bed.js';
import { addOrbs, addPlasma, type Frame } from './background.js';
import { continuationPath, zoompanFilter } from './camera.js';
import { type GraphBuilder, opts } from './graph.js';
import { hash32, Rng } from './prng.js';
import { type SceneLook, sceneLook } from './scene.js';

/**
 * The 7-second continuation of an extension. It starts on the source's last frame, exactly:
 * the frame sits at the centre of a canvas twice its size (the rest mirrored from it, so a
 * camera that pans or pulls back finds picture, not black), and a camera move over that canvas
 * begins at the frame itself. The prompt's procedural look (plasma and lights) fades in over
 * the move, from nothing at the first frame to a tint at the last.
 */

/** Crossfade between the source's sound and the new bed at the seam. */
const SEAM_CROSSFADE_SAMPLES = 1920; // 40 ms at 48 kHz

/**
 * The new bed's chord and pulse are computed at 12 kHz and resampled to 48 kHz: every tone is
 * below 1 kHz, and `aevalsrc` (one expression per sample) is otherwise the costliest part of
 * the sound. The bed starts under the crossfade, so the resampler's first samples are masked.
 */
const BED_SYNTH_RATE = 12000;

export interface ContinuationPlan {
  look: SceneLook;
  frame: Frame;
  /** Seconds of source before the continuation (its clock starts there). */
  sourceSec: number;
}

export function planContinuation(prompt: string, seed: number, frame: Frame, sourceSec: number): ContinuationPlan {
  return { look: sceneLook(prompt, seed), frame, sourceSec };
}

/** Input arguments for the raw yuv420p last frame written by the extractor. */
export function lastFrameInputArgs(path: string, width: number, height: number, fps: number): string[] {
  return ['-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-s', `${width}x${height}`, '-framerate', String(fps), '-i', path];
}

/** Adds the continuation's picture, from the still at `stillLabel`; returns its yuv420p label. */
export function addContinuationVideo(g: GraphBuilder, plan: ContinuationPlan, stillLabel: string, seed: number, prompt: string): string {
  const { look, frame } = plan;
  const { width: w, height: h } = frame;
  const rng = new Rng(hash32(`camera:${prompt}`, seed >>> 0));
  const path = continuationPath(look.camera, look.tempo, rng);
  const camera = g.chain(stillLabel, [
    'trim=end_frame=1',
    'setsar=1',
    `pad=${opts({ w: 2 * w, h: 2 * h, x: w / 2, y: h / 2 })}`,
    `fillborders=${opts({ left: w / 2, right: w / 2, top: h / 2, bottom: h / 2, mode: 'mirror' })}`,
    zoompanFilter(path, frame.frames, w, h, frame.fps),
    'setsar=1',
  ]);
  // The field is only a tint here (at most 45 % over the camera move), so it is computed at
  // 64 px instead of 96: less than half of geq's work, the costliest filter of a continuation.
  const layer = addPlasma(g, look, frame, {
    timeOffset: plan.sourceSec,
    fadeIn: { maxAlpha: look.moods.length > 0 ? 0.45 : 0.35 },
    fieldLongest: 64,
  });
  const tinted = g.chain([camera, layer], [`overlay=${opts({ format: 'yuv420' })}`, 'format=yuv420p']);
  return addOrbs(g, look, frame, tinted, { timeOffset: plan.sourceSec, fadeIn: true, limit: 3 });
}

/**
 * Adds the extension's whole sound: the source's audio (or silence), made exactly as long as
 * the source's picture, then a short equal-power crossfade into the new bed, which runs to the
 * end of the continuation. Returns a stereo 48 kHz label of exactly source + continuation.
 */
export function addExtendedAudio(g: GraphBuilder, plan: ContinuationPlan, sourceAudio: string | null, sourceSamples: number): string {
  const contSamples = Math.round((plan.frame.frames / plan.frame.fps) * SAMPLE_RATE);
  const fmt = `aformat=${opts({ sample_fmts: 'fltp', sample_rates: SAMPLE_RATE, channel_layouts: 'stereo' })}`;
  const head =
    sourceAudio === null
      ? g.source([`anullsrc=${opts({ r: SAMPLE_RATE, cl: 'stereo' })}`, `atrim=${opts({ end_sample: sourceSamples })}`, fmt])
      : g.chain(sourceAudio, [`aresample=${SAMPLE_RATE}`, fmt, 'apad', `atrim=${opts({ end_sample: sourceSamples })}`]);
  const bed = addAudioBed(g, plan.look.audio, {
    samples: contSamples + SEAM_CROSSFADE_SAMPLES,
    synthRate: BED_SYNTH_RATE,
    timeOffset: plan.sourceSec - SEAM_CROSSFADE_SAMPLES / SAMPLE_RATE,
  });
  return g.chain(
    [head, bed],
    [
      `acrossfade=${opts({ ns: SEAM_CROSSFADE_SAMPLES, c1: 'qsin', c2: 'qsin' })}`,
      `atrim=${opts({ end_sample: sourceSamples + contSamples })}`,
      'asetpts=N/SR/TB',
    ],
  );
}
