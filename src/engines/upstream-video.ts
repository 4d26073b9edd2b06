import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { EngineFailure, RenderJob, RenderOutcome } from './engine.js';
import { runFfmpeg } from './ffmpeg.js';
import { callGoogle, errorMessage, type GoogleHttp } from './google-http.js';
import { inspectMedia } from './local/media-info.js';
import { cleanWatermarkText, watermarkFilter } from './local/watermark.js';

/** What finishing an upstream's video needs from the host. */
export interface FinishTools {
  ffmpegPath: string;
  fontPath: string;
  workDir: string;
}

export const upstreamFailure = (message: string, engineUnavailable?: string): EngineFailure => ({
  ok: false,
  failCode: 'UPSTREAM_ERROR',
  message,
  retryable: false,
  ...(engineUnavailable ? { engineUnavailable } : {}),
});

/** The path of a job's raw upstream download, next to its output. */
export const rawDownloadPath = (job: RenderJob): string => `${job.outVideoPath}.download`;

/** Streams a GET of `pathAndQuery` on `http` into `dest`; a failure is an UPSTREAM_ERROR. */
export async function downloadTo(http: GoogleHttp, pathAndQuery: string, dest: string, signal: AbortSignal): Promise<EngineFailure | null> {
  const answer = await callGoogle(http, 'GET', pathAndQuery, signal, { raw: true });
  if (!answer.response) return upstreamFailure(`downloading the video failed: ${errorMessage(answer)}`);
  try {
    await pipeline(Readable.fromWeb(answer.response.body as WebReadableStream), createWriteStream(dest), { signal });
    return null;
  } catch (err) {
    await rm(dest, { force: true });
    if (signal.aborted) throw err;
    return upstreamFailure(`downloading the video failed: ${(err as Error).message}`);
  }
}

/**
 * Turns an upstream's downloaded MP4 (`raw`) into the job's output: draws the job's watermark if
 * any (otherwise the upstream's file is kept as it is), writes the JPEG poster and reads size and
 * duration back from the file. `upstreamVideo` is the upstream's handle, kept for extensions.
 */
export async function finishUpstreamVideo(
  raw: string,
  job: RenderJob,
  tools: FinishTools,
  signal: AbortSignal,
  upstreamVideo?: string,
): Promise<RenderOutcome> {
  const facts = await inspectMedia(tools.ffmpegPath, raw, signal);
  if (!facts) {
    await rm(raw, { force: true });
    return upstreamFailure('the upstream video cannot be read');
  }
  const { width, height, durationSec } = facts.video;
  const text = cleanWatermarkText(job.watermark);
  if (text !== null) {
    const filter = await watermarkFilter({ text, fontPath: tools.fontPath, workDir: tools.workDir, width, height });
    await runFfmpeg(
      tools.ffmpegPath,
      [
        '-y',
        '-v',
        'error',
        '-i',
        raw,
        '-vf',
        filter,
        '-c:v',
        'libx264',
        '-preset',
        'veryfast',
        '-crf',
        '18',
        '-pix_fmt',
        'yuv420p',
        '-c:a',
        'copy',
        '-movflags',
        '+faststart',
        job.outVideoPath,
      ],
      signal,
    );
    await rm(raw, { force: true });
  } else {
    await rename(raw, job.outVideoPath);
  }
  const at = Math.min(1, durationSec / 2).toFixed(3);
  await runFfmpeg(tools.ffmpegPath, ['-y', '-v', 'error', '-ss', at, '-i', job.outVideoPath, '-frames:v', '1', '-q:v', '3', job.outPosterPath], signal);
  return { ok: true, durationMs: Math.round(durationSec * 1000), width, height, ...(upstreamVideo !== undefined ? { upstreamVideo } : {}) };
}
