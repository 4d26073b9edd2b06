import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { EXTEND_SECONDS } from '../../domain/models.js';
import type { RenderedVideo, RenderJob } from '../engine.js';
import { FfmpegError, runFfmpeg } from '../ffmpeg.js';
import { SAMPLE_RATE } from './audio-bed.js';
import type { Frame } from './background.js';
import { type RenderContext, RenderFailure } from './context.js';
import { addContinuationVideo, addExtendedAudio, type ContinuationPlan, lastFrameInputArgs, planContinuation } from './continuation.js';
import { audioOutputArgs, containerArgs, FPS, posterOutputArgs, reencodeSettings, VIDEO_TIMESCALE, videoOutputArgs } from './encode.js';
import { GraphBuilder, opts, q } from './graph.js';
import { joinParts } from './join.js';
import { inspectMedia, type MediaFacts } from './media-info.js';
import { StepProgress } from './step-progress.js';
import { watermarkFilter } from './watermark.js';

/**
 * `veo-3-1-extend`: the whole source followed by a 7-second continuation from its last frame.
 *
 * Fast path (no watermark, a source whose H.264 headers match ours — every video this engine
 * made): only the continuation is encoded, then the source's video packets and the new ones
 * are joined by the concat demuxer with a stream copy, so the source's frames decode bit-exactly
 * as before. The sound is rebuilt beside the picture (source audio decoded, then crossfaded into
 * the new bed over 40 ms and encoded once, in its own ffmpeg run): AAC frames carry encoder
 * priming and overlap, so a packet-level join would leave a 21 ms glitch and drift at every seam.
 *
 * Full path (a watermark, or a foreign source): the source's frames are decoded, watermarked and
 * re-encoded while the continuation renders beside them (and the sound in a third process); the
 * two H.264 parts, encoded with the same settings, are then joined by stream copy.
 */
export async function renderExtend(ctx: RenderContext, job: RenderJob): Promise<RenderedVideo> {
  const source = job.source;
  if (source === null) throw new RenderFailure('INVALID_PARAMETER', 'an extend job needs its source video', false);

  const facts = await readSource(ctx, source.path);
  const width = facts.video.width - (facts.video.width % 2);
  const height = facts.video.height - (facts.video.height % 2);
  const fps = outputFps(facts.video.fps);
  const frame: Frame = { width, height, fps, frames: EXTEND_SECONDS * fps };
  const sourceSec = facts.video.durationSec;
  const plan = planContinuation(job.prompt, job.seed, frame, sourceSec);

  const lastPath = join(ctx.workDir, 'last.yuv');
  const copyable =
    job.watermark === null &&
    facts.video.codec === 'h264' &&
    facts.video.extradata !== null &&
    fps === FPS &&
    facts.video.timescale === VIDEO_TIMESCALE &&
    width === facts.video.width &&
    height === facts.video.height;
  // Only the continuation needs the last frame: the source's part and the sound start at once.
  const lastFrame = extractLastFrame(ctx, source.path, lastPath, facts, width, height);
  // Awaited later (after other awaits): mark it handled so an early failure is not "unhandled".
  lastFrame.catch(() => undefined);
  // Weights are about each step's share of the work, in seconds of encoded video (sound and
  // stream copies are cheap); a fallback to the full path starts a plan of its own.
  const joined =
    copyable &&
    (await renderByStreamCopy(
      ctx,
      job,
      plan,
      facts,
      lastPath,
      lastFrame,
      new StepProgress(ctx.progress, { continuation: EXTEND_SECONDS, copy: 0.5, audio: 1, join: 0.5 }),
    ));
  if (!joined) {
    const steps = new StepProgress(ctx.progress, { head: sourceSec, continuation: EXTEND_SECONDS, audio: 1, join: 0.5 });
    await renderByReencode(ctx, job, plan, facts, lastPath, lastFrame, steps);
  }

  return { ok: true, durationMs: Math.round(sourceSec * 1000) + EXTEND_SECONDS * 1000, width, height };
}

/** Frame rates we write: the source's, rounded to a whole number (23.976 → 24). */
function outputFps(sourceFps: number): number {
  const rounded = Math.round(sourceFps);
  return rounded >= 10 && rounded <= 60 ? rounded : FPS;
}

async function readSource(ctx: RenderContext, path: string): Promise<MediaFacts> {
  try {
    await stat(path);
  } catch {
    throw new RenderFailure('TASKID_ERROR', 'the source video is no longer available', false);
  }
  let facts: MediaFacts | null;
  try {
    facts = await inspectMedia(ctx.ffmpegPath, path, ctx.signal);
  } catch (err) {
    if (!isRefusal(err)) throw err;
    throw new RenderFailure('TASKID_ERROR', 'the source video cannot be read', false);
  }
  if (facts === null || facts.video.durationSec <= 0) {
    throw new RenderFailure('TASKID_ERROR', 'the source has no video frames', false);
  }
  return facts;
}

/** ffmpeg ran and refused the input (as opposed to not running at all, or being aborted). */
function isRefusal(err: unknown): boolean {
  return err instanceof FfmpegError && err.exitCode !== null;
}

class UnexpectedFrame extends Error {}

/** Writes the source's last frame as raw yuv420p (no colour conversion, so it is exact). */
async function extractLastFrame(ctx: RenderContext, src: string, out: string, facts: MediaFacts, w: number, h: number): Promise<void> {
  const resize = w !== facts.video.width || h !== facts.video.height ? ['-vf', `crop=${w}:${h}:0:0`] : [];
  try {
    await runFfmpeg(
      ctx.ffmpegPath,
      [
        '-v',
        'error',
        '-y',
        '-sseof',
        '-0.5',
        '-i',
        src,
        '-map',
        '0:v:0',
        ...resize,
        '-vsync',
        '0',
        '-pix_fmt',
        'yuv420p',
        '-c:v',
        'rawvideo',
        '-f',
        'image2',
        '-update',
        '1',
        out,
      ],
      ctx.signal,
    );
    const size = await stat(out).then(
      (st) => st.size,
      () => 0,
    );
    if (size !== (w * h * 3) / 2) throw new UnexpectedFrame(`no last frame (${size} bytes)`);
  } catch (err) {
    if (!isRefusal(err) && !(err instanceof UnexpectedFrame)) throw err;
    throw new RenderFailure('TASKID_ERROR', 'the last frame of the source cannot be decoded', false);
  }
}

/**
 * Encodes the continuation alone and joins it to the source by stream copy. Returns false
 * (only the poster written, which the fallback overwrites) when the new stream's headers
 * differ from the source's.
 */
async function renderByStreamCopy(
  ctx: RenderContext,
  job: RenderJob,
  plan: ContinuationPlan,
  facts: MediaFacts,
  lastPath: string,
  lastFrame: Promise<void>,
  steps: StepProgress,
): Promise<boolean> {
  const sourcePath = job.source?.path ?? '';
  const total = plan.sourceSec + EXTEND_SECONDS;
  const contPath = join(ctx.workDir, 'continuation.mp4');
  const sourceVideoPath = join(ctx.workDir, 'source-video.mp4');
  const audioPath = join(ctx.workDir, 'audio.m4a');

  // The source's video track alone: its audio's priming would otherwise shift the join.
  const copySourceVideo = steps.after(
    'copy',
    runFfmpeg(ctx.ffmpegPath, ['-v', 'error', '-y', '-i', sourcePath, '-map', '0:v:0', '-c', 'copy', ...containerArgs(), sourceVideoPath], ctx.signal),
  );
  const encodeAudio = encodeExtendedAudio(ctx, plan, facts, sourcePath, audioPath, steps.track('audio', total));

  const encodeContinuation = renderContinuation(ctx, job, plan, lastPath, lastFrame, null, contPath, steps.track('continuation', EXTEND_SECONDS));
  // Wait for all before acting on a failure, so no ffmpeg still writes into the work dir.
  const settled = await Promise.allSettled([encodeContinuation, copySourceVideo, encodeAudio]);
  for (const r of settled) if (r.status === 'rejected') throw r.reason;

  const cont = await inspectMedia(ctx.ffmpegPath, contPath, ctx.signal, true);
  if (cont === null || cont.video.extradata !== facts.video.extradata) return false;

  await joinParts(ctx.ffmpegPath, ctx.workDir, [sourceVideoPath, contPath], audioPath, job.outVideoPath, ctx.signal, steps.track('join', total));
  return true;
}

/**
 * Encodes the extension's whole sound (source's audio, crossfade, new bed) to AAC on its own, in
 * parallel with the picture; the join copies it (the MP4's edit list keeps the AAC priming, so it
 * decodes exactly as if it had been encoded into the final file).
 */
function encodeExtendedAudio(
  ctx: RenderContext,
  plan: ContinuationPlan,
  facts: MediaFacts,
  sourcePath: string,
  outPath: string,
  onProgress: ((outSeconds: number) => void) | undefined,
): Promise<unknown> {
  const g = new GraphBuilder();
  const sourceSamples = Math.round(plan.sourceSec * SAMPLE_RATE);
  const audio = addExtendedAudio(g, plan, facts.audio ? '[0:a:0]' : null, sourceSamples);
  return runFfmpeg(
    ctx.ffmpegPath,
    ['-y', ...(facts.audio ? ['-i', sourcePath] : []), '-filter_complex', g.toString(), '-map', audio, ...audioOutputArgs(), ...containerArgs(), outPath],
    ctx.signal,
    { onProgress },
  );
}

/**
 * Decodes the source and renders the continuation, each watermarked and encoded on its own, in
 * parallel (three ffmpeg runs: the source's part, the continuation with the poster, the sound),
 * then joins the two H.264 parts by stream copy. Both parts use the same encoder settings, so
 * their headers match each other (and every other encode of this engine); the result decodes like
 * one encode of the whole clip, at about half the wall time on two cores.
 */
async function renderByReencode(
  ctx: RenderContext,
  job: RenderJob,
  plan: ContinuationPlan,
  facts: MediaFacts,
  lastPath: string,
  lastFrame: Promise<void>,
  steps: StepProgress,
): Promise<void> {
  const { frame } = plan;
  const total = plan.sourceSec + EXTEND_SECONDS;
  const sourcePath = job.source?.path ?? '';
  const headPath = join(ctx.workDir, 'head.mp4');
  const tailPath = join(ctx.workDir, 'tail.mp4');
  const audioPath = join(ctx.workDir, 'audio.m4a');
  const drawtext =
    job.watermark === null
      ? null
      : await watermarkFilter({ text: job.watermark, fontPath: ctx.fontPath, workDir: ctx.workDir, width: frame.width, height: frame.height });
  const hg = new GraphBuilder();
  const head = hg.chain('[0:v:0]', [
    `scale=${opts({ w: frame.width, h: frame.height })}`,
    'setsar=1',
    'format=yuv420p',
    `fps=${frame.fps}`,
    `setpts=N/(${frame.fps}*TB)`,
    ...(drawtext === null ? [] : [drawtext]),
  ]);
  const encodeHead = runFfmpeg(
    ctx.ffmpegPath,
    ['-y', '-i', sourcePath, '-filter_complex', hg.toString(), '-map', head, '-an', ...partEncodeArgs(ctx, job, frame.fps), ...containerArgs(), headPath],
    ctx.signal,
    { onProgress: steps.track('head', plan.sourceSec) },
  );

  const encodeAudio = encodeExtendedAudio(ctx, plan, facts, sourcePath, audioPath, steps.track('audio', total));

  const encodeTail = renderContinuation(ctx, job, plan, lastPath, lastFrame, drawtext, tailPath, steps.track('continuation', EXTEND_SECONDS));

  // Wait for all before acting on a failure, so no ffmpeg still writes into the work dir.
  const settled = await Promise.allSettled([encodeTail, encodeHead, encodeAudio]);
  for (const r of settled) if (r.status === 'rejected') throw r.reason;

  await joinParts(ctx.ffmpegPath, ctx.workDir, [headPath, tailPath], audioPath, job.outVideoPath, ctx.signal, steps.track('join', total));
}

/**
 * Every encoded part of an extension uses these settings (in fast mode the cheaper re-encode
 * preset), so all parts share one set of H.264 headers and join by stream copy.
 */
function partEncodeArgs(ctx: RenderContext, job: RenderJob, fps: number): string[] {
  return videoOutputArgs(job.mode, ctx.threads, fps, reencodeSettings(job.mode));
}

/**
 * Renders the 7 s continuation from the source's last frame (once it is extracted), optionally
 * watermarked, to `outPath`, and writes the poster from its final frame.
 */
function renderContinuation(
  ctx: RenderContext,
  job: RenderJob,
  plan: ContinuationPlan,
  lastPath: string,
  lastFrame: Promise<void>,
  drawtext: string | null,
  outPath: string,
  onProgress: ((outSeconds: number) => void) | undefined,
): Promise<unknown> {
  const { frame } = plan;
  const g = new GraphBuilder();
  const rendered = addContinuationVideo(g, plan, '[0:v]', job.seed, job.prompt);
  const video = drawtext === null ? rendered : g.chain(rendered, [drawtext]);
  const out = g.label('vout');
  const posterIn = g.label('pin');
  g.chain(video, ['split=2'], `${out}${posterIn}`);
  const poster = g.chain(posterIn, [`select=${opts({ expr: q(`eq(n,${frame.frames - 1})`) })}`]);
  return lastFrame.then(() =>
    runFfmpeg(
      ctx.ffmpegPath,
      [
        '-y',
        ...lastFrameInputArgs(lastPath, frame.width, frame.height, frame.fps),
        '-filter_complex',
        g.toString(),
        '-map',
        out,
        '-an',
        ...partEncodeArgs(ctx, job, frame.fps),
        ...containerArgs(),
        outPath,
        '-map',
        poster,
        ...posterOutputArgs(),
        job.outPosterPath,
      ],
      ctx.signal,
      { onProgress },
    ),
  );
}
