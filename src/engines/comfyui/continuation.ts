import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
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

/**
 * Writes the source's last `count` frames as PNGs, oldest first, and answers their paths. The
 * window decoded is a second longer than the frames asked for, so a seek that lands a little late
 * still leaves enough; only the last `count` decoded are kept. Fewer frames than that (a source
 * shorter than the guide) is a failure the caller reports.
 */
export async function lastFrames(ffmpegPath: string, sourcePath: string, count: number, fps: number, dir: string, signal: AbortSignal): Promise<string[]> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const window = (count / fps + 1).toFixed(3);
  await runFfmpeg(
    ffmpegPath,
    [
      '-y',
      '-v',
      'error',
      '-sseof',
      `-${window}`,
      '-i',
      sourcePath,
      '-map',
      '0:v:0',
      '-map_metadata',
      '-1',
      '-vsync',
      '0',
      '-f',
      'image2',
      join(dir, 'f%05d.png'),
    ],
    signal,
  );
  const files = (await readdir(dir)).filter((f) => f.endsWith('.png')).sort();
  return files.slice(-count).map((f) => join(dir, f));
}

/**
 * The continuation without its first `count` frames: a guided render re-renders the guide clip
 * (the source's last frames) at its start, and the source already shows them. Encoded lossless,
 * since the splice encodes it once more.
 */
export async function dropLeadFrames(ffmpegPath: string, inPath: string, outPath: string, count: number, signal: AbortSignal): Promise<void> {
  await runFfmpeg(
    ffmpegPath,
    [
      '-y',
      '-v',
      'error',
      '-i',
      inPath,
      '-map',
      '0:v:0',
      '-vf',
      `trim=start_frame=${count},setpts=PTS-STARTPTS`,
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-qp',
      '0',
      '-an',
      outPath,
    ],
    signal,
  );
}
