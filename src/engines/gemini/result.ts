import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { EngineFailure, RenderJob, RenderOutcome } from '../engine.js';
import { runFfmpeg } from '../ffmpeg.js';
import { inspectMedia } from '../local/media-info.js';
import { cleanWatermarkText, watermarkFilter } from '../local/watermark.js';
import { callGemini, errorMessage, type GeminiHttp } from './http.js';

/**
 * The download path of a video URI on the configured base URL. Google answers with a URI on its
 * own host; the path and query are kept and the host replaced, so a proxy (or a test fake)
 * configured as the base URL serves the download too, with the same key header.
 */
export function downloadPath(uri: string): string | null {
  try {
    const u = new URL(uri);
    return u.pathname + u.search;
  } catch {
    return null;
  }
}

const upstreamFailure = (message: string): EngineFailure => ({ ok: false, failCode: 'UPSTREAM_ERROR', message, retryable: false });

/**
 * Downloads the finished video into the job's output, draws the job's watermark if any, writes
 * the JPEG poster and reads size and duration back from the file.
 */
export async function fetchResult(
  http: GeminiHttp, uri: string, job: RenderJob, tools: { ffmpegPath: string; fontPath: string; workDir: string }, signal: AbortSignal,
): Promise<RenderOutcome> {
  const path = downloadPath(uri);
  if (path === null) return upstreamFailure(`the operation returned an unusable video URI: ${uri.slice(0, 200)}`);
  const answer = await callGemini(http, 'GET', path, signal, { raw: true });
  if (!answer.response) return upstreamFailure(`downloading the video failed: ${errorMessage(answer)}`);
  const raw = `${job.outVideoPath}.download`;
  try {
    await pipeline(Readable.fromWeb(answer.response.body as WebReadableStream), createWriteStream(raw), { signal });
  } catch (err) {
    await rm(raw, { force: true });
    if (signal.aborted) throw err;
    return upstreamFailure(`downloading the video failed: ${(err as Error).message}`);
  }
  const facts = await inspectMedia(tools.ffmpegPath, raw, signal);
  if (!facts) {
    await rm(raw, { force: true });
    return upstreamFailure('the upstream video cannot be read');
  }
  const { width, height, durationSec } = facts.video;
  const text = cleanWatermarkText(job.watermark);
  if (text !== null) {
    const filter = await watermarkFilter({ text, fontPath: tools.fontPath, workDir: tools.workDir, width, height });
    await runFfmpeg(tools.ffmpegPath, [
      '-y', '-v', 'error', '-i', raw, '-vf', filter, '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-pix_fmt', 'yuv420p',
      '-c:a', 'copy', '-movflags', '+faststart', job.outVideoPath,
    ], signal);
    await rm(raw, { force: true });
  } else {
    await rename(raw, job.outVideoPath);
  }
  const at = Math.min(1, durationSec / 2).toFixed(3);
  await runFfmpeg(tools.ffmpegPath, ['-y', '-v', 'error', '-ss', at, '-i', job.outVideoPath, '-frames:v', '1', '-q:v', '3', job.outPosterPath], signal);
  return { ok: true, durationMs: Math.round(durationSec * 1000), width, height, upstreamVideo: uri };
}
