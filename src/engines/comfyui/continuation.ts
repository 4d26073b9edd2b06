import type { EngineFailure } from '../engine.js';
import { runFfmpeg } from '../ffmpeg.js';
import { inspectMedia } from '../local/media-info.js';
import type { TailCut } from '../splice/extend-by-tail.js';
import { spliceFps } from '../splice/splice.js';
import { engineFailure } from '../upstream-job.js';

/**
 * An extension on ComfyUI (docs/comfyui.md, extensions): the source is kept whole and a new clip,
 * rendered image-to-video from its last frame, follows it. The splice's "continuation only"
 * case is a cut at the source's end: every source frame is the head, nothing is re-rendered.
 */
export async function wholeSourceCut(ffmpegPath: string, sourcePath: string, signal: AbortSignal): Promise<TailCut | EngineFailure> {
  const facts = await inspectMedia(ffmpegPath, sourcePath, signal);
  if (facts === null || facts.video.durationSec <= 0) return engineFailure('TASKID_ERROR', 'the source video cannot be read');
  const sec = facts.video.durationSec;
  const cutFrame = Math.round(sec * spliceFps(facts));
  return { facts, plan: { cutFrame, cutSec: sec, tailSec: 0, sourceSec: sec, clean: true } };
}

/** Writes the source's last frame as a PNG: every frame of the last half second is written over the one before. */
export async function lastFrame(ffmpegPath: string, sourcePath: string, outPath: string, signal: AbortSignal): Promise<void> {
  await runFfmpeg(
    ffmpegPath,
    ['-y', '-v', 'error', '-sseof', '-0.5', '-i', sourcePath, '-map', '0:v:0', '-map_metadata', '-1', '-f', 'image2', '-update', '1', outPath],
    signal,
  );
}
