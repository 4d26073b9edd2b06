import { join } from 'node:path';
import type { Mode } from '../../domain/models.js';
import { runFfmpeg } from '../ffmpeg.js';
import { SAMPLE_RATE } from '../local/audio-bed.js';
import { audioOutputArgs, containerArgs, reencodeSettings, videoOutputArgs } from '../local/encode.js';
import { joinParts } from '../local/join.js';
import { inspectMedia, type MediaFacts } from '../local/media-info.js';
import type { TailPlan } from './tail-plan.js';

/**
 * Extension by splicing (docs/vertex.md): the source's head is kept, the upstream's answer for the
 * tail (the tail re-rendered, then the continuation) takes the tail's place. Every part is
 * encoded with the settings of Longshot's own encodes (local/encode.ts), so a head cut cleanly
 * from a video Longshot encoded is copied packet for packet and decodes frame for frame as before.
 */
export interface SpliceTools {
  ffmpegPath: string;
  /** x264 threads: the local engine's, so stream headers match its encodes. */
  threads: number;
  workDir: string;
  signal: AbortSignal;
}

/** Seconds an extension adds (docs/contract.md §3: the whole source followed by a 7 s continuation). */
export const CONTINUATION_SECONDS = 7;
/** Crossfade of the sound at the seam, as in the local engine's extensions. */
const SEAM_SAMPLES = 1920;
/** How far an upstream's answer may fall short of its expected length before it is refused. */
const SHORT_TOLERANCE_SEC = 1;

/** Frame rate of the output: the source's, rounded (23.976 → 24), as the local engine does. */
export function spliceFps(source: MediaFacts): number {
  const fps = Math.round(source.video.fps);
  return fps >= 10 && fps <= 60 ? fps : 24;
}

/** The upload size Vertex accepts (720p in the source's orientation). */
function uploadSize(source: MediaFacts): { width: number; height: number } {
  return source.video.height > source.video.width ? { width: 720, height: 1280 } : { width: 1280, height: 720 };
}

/**
 * Writes the tail (frames from the cut on, with their sound) as an MP4 the upstream takes:
 * H.264/AAC, the source's frame rate, 720p. Re-encoded rather than copied: the cut is exact to
 * the frame either way, and the upstream gets a clip in the form it documents.
 */
export async function writeTail(tools: SpliceTools, sourcePath: string, source: MediaFacts, plan: TailPlan, mode: Mode, outPath: string): Promise<void> {
  const fps = spliceFps(source);
  const { width, height } = uploadSize(source);
  // fps before trim: the 2018 ffmpeg's fps filter, placed after a trim, fills the trimmed start with copies.
  const video = `[0:v:0]fps=${fps},trim=start_frame=${plan.cutFrame},setpts=PTS-STARTPTS,scale=${width}:${height},setsar=1,format=yuv420p[v]`;
  const audio = source.audio ? `;[0:a:0]atrim=start_sample=${Math.round(plan.cutSec * SAMPLE_RATE)},asetpts=N/SR/TB[a]` : '';
  await runFfmpeg(
    tools.ffmpegPath,
    [
      '-y',
      '-v',
      'error',
      '-i',
      sourcePath,
      '-filter_complex',
      video + audio,
      '-map',
      '[v]',
      ...(source.audio ? ['-map', '[a]'] : []),
      ...videoOutputArgs(mode, tools.threads, fps, reencodeSettings(mode)),
      ...(source.audio ? audioOutputArgs() : []),
      ...containerArgs(),
      outPath,
    ],
    tools.signal,
  );
}

export type SpliceOutcome = { ok: true; durationMs: number; width: number; height: number } | { ok: false; message: string };

export interface SpliceInput {
  sourcePath: string;
  source: MediaFacts;
  plan: TailPlan;
  /** The upstream's answer: the tail re-rendered and the continuation, or the continuation alone. */
  returnedPath: string;
  mode: Mode;
  /** A drawtext filter for the watermark, or null. */
  drawtext: string | null;
  outVideoPath: string;
  outPosterPath: string;
}

/**
 * Joins the source's head and the upstream's answer into `outVideoPath` (total = source + 7 s,
 * in whole frames) and writes the poster from the last frame. The answer is read as "tail, then
 * continuation" when it is about tail + 7 s long, as "continuation only" when about 7 s (then the
 * head is the whole source); anything shorter is refused.
 */
export async function spliceExtension(tools: SpliceTools, input: SpliceInput): Promise<SpliceOutcome> {
  const { source, plan } = input;
  const returned = await inspectMedia(tools.ffmpegPath, input.returnedPath, tools.signal);
  if (returned === null) return { ok: false, message: 'the upstream video cannot be read' };
  const fps = spliceFps(source);
  const width = source.video.width - (source.video.width % 2);
  const height = source.video.height - (source.video.height % 2);
  const sourceFrames = Math.round(source.video.durationSec * fps);
  const contFrames = CONTINUATION_SECONDS * fps;
  const got = returned.video.durationSec;
  let headFrames: number;
  if (got >= plan.tailSec + CONTINUATION_SECONDS - SHORT_TOLERANCE_SEC) headFrames = plan.cutFrame;
  else if (plan.cutFrame > 0 && got >= CONTINUATION_SECONDS - SHORT_TOLERANCE_SEC && got < plan.tailSec + 1) headFrames = sourceFrames;
  else
    return {
      ok: false,
      message: `the upstream returned ${got.toFixed(2)} s for a ${plan.tailSec.toFixed(2)} s clip (expected it followed by ${CONTINUATION_SECONDS} s)`,
    };
  const newFrames = sourceFrames + contFrames - headFrames;

  const newPath = join(tools.workDir, 'splice-new.mp4');
  const headPath = join(tools.workDir, 'splice-head.mp4');
  const audioPath = join(tools.workDir, 'splice-audio.m4a');
  const partArgs = videoOutputArgs(input.mode, tools.threads, fps, reencodeSettings(input.mode));
  const mark = input.drawtext ? `,${input.drawtext}` : '';
  // Exactly newFrames: a short answer's last frame is held (within the tolerance), a long one cut.
  const newVideo = runFfmpeg(
    tools.ffmpegPath,
    [
      '-y',
      '-v',
      'error',
      '-i',
      input.returnedPath,
      '-filter_complex',
      `[0:v:0]scale=${width}:${height},setsar=1,format=yuv420p,fps=${fps},setpts=N/(${fps}*TB),tpad=stop_mode=clone:stop_duration=${SHORT_TOLERANCE_SEC + 1},trim=end_frame=${newFrames}${mark}[v]`,
      '-map',
      '[v]',
      '-an',
      ...partArgs,
      ...containerArgs(),
      newPath,
    ],
    tools.signal,
  );
  const audio = encodeSplicedAudio(tools, input, returned, headFrames / fps, newFrames / fps, audioPath);
  const settled = await Promise.allSettled([newVideo, audio]);
  for (const r of settled) if (r.status === 'rejected') throw r.reason;

  const parts: string[] = [];
  if (headFrames > 0) {
    const made = await inspectMedia(tools.ffmpegPath, newPath, tools.signal, true);
    // The head is copied only when its packets can stand next to ours: a clean cut, no watermark
    // to draw on it, and the same stream headers (every video the local engine encoded).
    const copy =
      (plan.clean || headFrames === sourceFrames) &&
      input.drawtext === null &&
      made !== null &&
      source.video.extradata !== null &&
      made.video.extradata === source.video.extradata &&
      source.video.width === width &&
      source.video.height === height &&
      Math.abs(source.video.fps - fps) < 0.01;
    const headArgs = copy
      ? ['-map', '0:v:0', '-c', 'copy', '-frames:v', String(headFrames)]
      : [
          '-filter_complex',
          `[0:v:0]scale=${width}:${height},setsar=1,format=yuv420p,fps=${fps},setpts=N/(${fps}*TB),trim=end_frame=${headFrames}${mark}[v]`,
          '-map',
          '[v]',
          ...partArgs,
        ];
    await runFfmpeg(tools.ffmpegPath, ['-y', '-v', 'error', '-i', input.sourcePath, ...headArgs, '-an', ...containerArgs(), headPath], tools.signal);
    parts.push(headPath);
  }
  parts.push(newPath);
  await joinParts(tools.ffmpegPath, tools.workDir, parts, audioPath, input.outVideoPath, tools.signal);
  // The poster is the last frame (as for the local engine's extensions): every frame of the last
  // half second is written over the one before.
  await runFfmpeg(
    tools.ffmpegPath,
    [
      '-y',
      '-v',
      'error',
      '-sseof',
      '-0.5',
      '-i',
      newPath,
      '-map',
      '0:v:0',
      '-q:v',
      '3',
      '-flags:v',
      '+bitexact',
      '-map_metadata',
      '-1',
      '-f',
      'image2',
      '-update',
      '1',
      input.outPosterPath,
    ],
    tools.signal,
  );
  return { ok: true, durationMs: Math.round(((headFrames + newFrames) / fps) * 1000), width, height };
}

/**
 * The whole sound, encoded once: the source's for the head (silence if it has none), then the
 * upstream's, with a 40 ms crossfade at the seam, exactly as long as the picture.
 */
function encodeSplicedAudio(tools: SpliceTools, input: SpliceInput, returned: MediaFacts, headSec: number, newSec: number, outPath: string): Promise<unknown> {
  const fmt = `aformat=sample_fmts=fltp:sample_rates=${SAMPLE_RATE}:channel_layouts=stereo`;
  const headSamples = Math.round(headSec * SAMPLE_RATE);
  const newSamples = Math.round(newSec * SAMPLE_RATE);
  const inputs: string[] = [];
  const chains: string[] = [];
  let idx = 0;
  const fromFile = (path: string): number => {
    inputs.push('-i', path);
    return idx++;
  };
  const sourceIn = input.source.audio && headSamples > 0 ? fromFile(input.sourcePath) : -1;
  const returnedIn = returned.audio ? fromFile(input.returnedPath) : -1;
  const silence = (n: number): string => `anullsrc=r=${SAMPLE_RATE}:cl=stereo,atrim=end_sample=${n},${fmt}`;
  if (headSamples === 0) {
    chains.push(
      returnedIn >= 0
        ? `[${returnedIn}:a:0]aresample=${SAMPLE_RATE},${fmt},apad,atrim=end_sample=${newSamples},asetpts=N/SR/TB[a]`
        : `${silence(newSamples)},asetpts=N/SR/TB[a]`,
    );
  } else {
    // The head's sound runs SEAM_SAMPLES past the cut, under the crossfade into the new sound.
    chains.push(
      sourceIn >= 0
        ? `[${sourceIn}:a:0]aresample=${SAMPLE_RATE},${fmt},apad,atrim=end_sample=${headSamples + SEAM_SAMPLES}[h]`
        : `${silence(headSamples + SEAM_SAMPLES)}[h]`,
    );
    chains.push(returnedIn >= 0 ? `[${returnedIn}:a:0]aresample=${SAMPLE_RATE},${fmt},apad,atrim=end_sample=${newSamples}[n]` : `${silence(newSamples)}[n]`);
    chains.push(`[h][n]acrossfade=ns=${SEAM_SAMPLES}:c1=qsin:c2=qsin,atrim=end_sample=${headSamples + newSamples},asetpts=N/SR/TB[a]`);
  }
  return runFfmpeg(
    tools.ffmpegPath,
    ['-y', '-v', 'error', ...inputs, '-filter_complex', chains.join(';'), '-map', '[a]', ...audioOutputArgs(), ...containerArgs(), outPath],
    tools.signal,
  );
}
