import { spawn } from 'node:child_process';
import { accessSync, existsSync, constants as fsConstants, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** Finds an executable called `name` on `pathVar` (a PATH value), or null. */
function findOnPath(name: string, pathVar: string): string | null {
  const dirs = pathVar.split(delimiter).filter((d) => d.length > 0);
  const names = process.platform === 'win32' ? [`${name}.exe`, name] : [name];
  for (const dir of dirs) {
    for (const n of names) {
      const candidate = join(dir, n);
      try {
        accessSync(candidate, fsConstants.X_OK);
        return candidate;
      } catch {
        // not here; keep looking
      }
    }
  }
  return null;
}

function installerPath(pkg: string): string | null {
  try {
    const mod = require(pkg) as { path?: unknown };
    return typeof mod.path === 'string' && existsSync(mod.path) ? mod.path : null;
  } catch {
    return null;
  }
}

/** Where the binary came from: LONGSHOT_FFMPEG, the PATH, or the npm package's static build. */
type BinarySource = 'configured' | 'PATH' | 'bundled';

export interface ResolvedBinary {
  path: string;
  source: BinarySource;
  /**
   * The npm package's static build, however it was reached (a LONGSHOT_FFMPEG or a PATH entry
   * may point at it too): for ffmpeg that is a 2018 build.
   */
  bundled: boolean;
}

function samePath(a: string, b: string | null): boolean {
  if (b === null) return false;
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/** The configured path, else the command on PATH, else the static build the npm package ships. */
function resolveBinary(name: 'ffmpeg' | 'ffprobe', pkg: string, configured: string | undefined, pathVar: string): ResolvedBinary {
  const shipped = installerPath(pkg);
  const pick = (path: string, source: BinarySource): ResolvedBinary => ({ path, source, bundled: source === 'bundled' || samePath(path, shipped) });
  if (configured !== undefined && configured.length > 0) return pick(configured, 'configured');
  const onPath = findOnPath(name, pathVar);
  if (onPath !== null) return pick(onPath, 'PATH');
  if (shipped !== null) return pick(shipped, 'bundled');
  throw new Error(`${name} not found: set its path in the configuration, install ${pkg} or put ${name} on PATH`);
}

/**
 * The ffmpeg binary to run: the configured path, else an `ffmpeg` on PATH, else the static
 * build shipped by `@ffmpeg-installer/ffmpeg`. Throws (a configuration fault) when none exists.
 */
export function resolveFfmpeg(configured?: string): string {
  return locateFfmpeg(configured).path;
}

/** {@link resolveFfmpeg} with where the binary came from; `pathVar` stands for `$PATH`. */
export function locateFfmpeg(configured?: string, pathVar = process.env.PATH ?? ''): ResolvedBinary {
  return resolveBinary('ffmpeg', '@ffmpeg-installer/ffmpeg', configured, pathVar);
}

/**
 * The ffprobe binary, resolved like {@link resolveFfmpeg} with `@ffprobe-installer/ffprobe`
 * (a devDependency). Only tests need ffprobe; the engine itself never runs it.
 */
export function resolveFfprobe(configured?: string): string {
  return resolveBinary('ffprobe', '@ffprobe-installer/ffprobe', configured, process.env.PATH ?? '').path;
}

/**
 * The bold DejaVu Sans shipped by the `dejavu-fonts-ttf` package. Watermarks are drawn with this
 * file so the output never depends on the fonts installed on the host.
 */
export function defaultFontPath(): string {
  const dir = join(dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');
  for (const name of ['DejaVuSans-Bold.ttf', 'DejaVuSans.ttf']) {
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`no DejaVu Sans font found in ${dir}`);
}

/**
 * The output time of one `-progress` line, in seconds: `out_time_us` (ffmpeg 4.1+) or its older
 * misnamed twin `out_time_ms`, both microseconds; null for any other line (or `N/A`).
 */
function outTimeSeconds(line: string): number | null {
  const m = /^out_time_(?:us|ms)=(\d+)\s*$/.exec(line);
  return m ? Number(m[1]) / 1e6 : null;
}

/** ffmpeg ran and failed. `stderrTail` holds the end of its log, for the operator. */
export class FfmpegError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderrTail: string,
  ) {
    super(message);
    this.name = 'FfmpegError';
  }
}

/** ffmpeg was stopped because the caller's AbortSignal fired. */
export class FfmpegAbortedError extends Error {
  constructor() {
    super('ffmpeg aborted');
    this.name = 'AbortError';
  }
}

export interface FfmpegResult {
  /** Everything ffmpeg wrote to stdout (use `-f … -` outputs such as framecrc). */
  stdout: string;
  /** The last part of stderr (ffmpeg's log). */
  stderrTail: string;
}

const STDERR_TAIL_CHARS = 4000;

/**
 * Runs ffmpeg with `args` (no shell). Resolves when it exits with 0; rejects with
 * {@link FfmpegError} otherwise, or with {@link FfmpegAbortedError} when `signal` fires, in which
 * case the child is killed with SIGKILL at once (ffmpeg may ignore a polite SIGTERM while it
 * is blocked in a filter).
 */
export function runFfmpeg(
  ffmpegPath: string,
  args: readonly string[],
  signal?: AbortSignal,
  options: { captureStdout?: boolean; onProgress?: (outSeconds: number) => void } = {},
): Promise<FfmpegResult> {
  return new Promise<FfmpegResult>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new FfmpegAbortedError());
      return;
    }
    // `-progress pipe:1` writes key=value blocks to stdout, so it cannot share stdout with an output.
    const progress = options.onProgress && !options.captureStdout ? options.onProgress : null;
    const child = spawn(ffmpegPath, ['-nostdin', '-hide_banner', ...(progress ? ['-progress', 'pipe:1'] : []), ...args], {
      stdio: ['ignore', options.captureStdout || progress ? 'pipe' : 'ignore', 'pipe'],
      windowsHide: true,
    });
    let stderr = '';
    const stdoutChunks: Buffer[] = [];
    let aborted = false;
    let settled = false;

    const onAbort = (): void => {
      aborted = true;
      child.kill('SIGKILL');
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
      if (stderr.length > STDERR_TAIL_CHARS * 2) stderr = stderr.slice(-STDERR_TAIL_CHARS);
    });
    if (progress) {
      let partial = '';
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          const seconds = outTimeSeconds(line);
          if (seconds !== null) progress(seconds);
        }
      });
    } else child.stdout?.on('data', (chunk: Buffer) => stdoutChunks.push(chunk));

    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };

    child.on('error', (err) => {
      finish(() => reject(aborted ? new FfmpegAbortedError() : new FfmpegError(`cannot run ffmpeg: ${err.message}`, null, null, '')));
    });
    child.on('close', (code, sig) => {
      const tail = stderr.slice(-STDERR_TAIL_CHARS);
      finish(() => {
        if (aborted) reject(new FfmpegAbortedError());
        else if (code === 0) resolve({ stdout: Buffer.concat(stdoutChunks).toString('utf8'), stderrTail: tail });
        else {
          const lastLine = tail.trim().split('\n').slice(-1)[0] ?? '';
          reject(new FfmpegError(`ffmpeg exited with ${code ?? sig}: ${lastLine}`, code, sig, tail));
        }
      });
    });
  });
}
