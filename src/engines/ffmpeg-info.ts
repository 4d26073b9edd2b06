import { execFile } from 'node:child_process';
import type { Logger } from 'pino';
import { locateFfmpeg, type ResolvedBinary } from './ffmpeg.js';

/**
 * Which ffmpeg this process renders with, told once at start. The fallback shipped by
 * `@ffmpeg-installer/ffmpeg` is a static build from 2018: it works, but it is old code parsing
 * media, so an operator should see that it is in use and how to replace it.
 */

export const BUNDLED_FFMPEG_WARNING = 'ffmpeg from @ffmpeg-installer (2018 build) is in use; install a current ffmpeg on PATH or set LONGSHOT_FFMPEG';

export interface FfmpegInfo extends ResolvedBinary {
  /** The version word of `ffmpeg -version`, e.g. `7.1.1` or `N-47683-g0e8eb07980-static`; null if unread. */
  version: string | null;
  /** The first line of `ffmpeg -version`, null if it could not be run. */
  versionLine: string | null;
  /** Why the version could not be read (the binary did not run, or is not ffmpeg). */
  error: string | null;
}

/** The first line of `ffmpeg -version` output and its version word ("ffmpeg version X …"). */
export function parseFfmpegVersion(output: string): { line: string; version: string | null } | null {
  const line = output
    .split(/\r?\n/)
    .find((l) => l.trim().length > 0)
    ?.trim();
  if (line === undefined) return null;
  const version = /^ffmpeg version (\S+)/.exec(line)?.[1] ?? null;
  return { line, version };
}

/** Runs `ffmpeg -version` once (bounded: a binary that hangs is not waited for). */
function runVersion(path: string, timeoutMs: number): Promise<{ stdout: string } | { error: string }> {
  return new Promise((resolve) => {
    execFile(path, ['-version'], { timeout: timeoutMs, windowsHide: true }, (err, stdout) => {
      if (err) resolve({ error: err.message.split('\n')[0] ?? String(err) });
      else resolve({ stdout });
    });
  });
}

/** Locates ffmpeg as the engines will ({@link locateFfmpeg}) and reads its version: one spawn. */
export async function describeFfmpeg(configured?: string, pathVar?: string, timeoutMs = 10_000): Promise<FfmpegInfo> {
  const binary = locateFfmpeg(configured, pathVar);
  const ran = await runVersion(binary.path, timeoutMs);
  if ('error' in ran) return { ...binary, version: null, versionLine: null, error: ran.error };
  const parsed = parseFfmpegVersion(ran.stdout);
  if (parsed?.version == null) {
    return { ...binary, version: null, versionLine: parsed?.line ?? null, error: '`-version` did not print "ffmpeg version …"' };
  }
  return { ...binary, version: parsed.version, versionLine: parsed.line, error: null };
}

/** One info line (path, source, version); a warning for the 2018 build or a binary that does not run. */
export function logFfmpeg(log: Pick<Logger, 'info' | 'warn'>, info: FfmpegInfo): void {
  const fields = { ffmpeg: { path: info.path, source: info.source, version: info.version, bundled: info.bundled } };
  if (info.error !== null) {
    log.warn({ ...fields, err: info.error }, `ffmpeg at ${info.path} (${info.source}) cannot be used: ${info.error}; renders will fail`);
  } else {
    log.info(fields, `ffmpeg ${info.version} (${info.source}) at ${info.path}`);
  }
  if (info.bundled) log.warn(fields, BUNDLED_FFMPEG_WARNING);
}
