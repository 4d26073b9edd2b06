import type { RenderJob, RenderOutcome } from '../engine.js';
import type { GoogleHttp } from '../google-http.js';
import { downloadTo, type FinishTools, finishUpstreamVideo, rawDownloadPath, upstreamFailure } from '../upstream-video.js';

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

/** Downloads the finished video and finishes it into the job's output (watermark, poster, facts). */
export async function fetchResult(http: GoogleHttp, uri: string, job: RenderJob, tools: FinishTools, signal: AbortSignal): Promise<RenderOutcome> {
  const path = downloadPath(uri);
  if (path === null) return upstreamFailure(`the operation returned an unusable video URI: ${uri.slice(0, 200)}`);
  const raw = rawDownloadPath(job);
  const failed = await downloadTo(http, path, raw, signal);
  if (failed) return failed;
  return finishUpstreamVideo(raw, job, tools, signal, uri);
}
