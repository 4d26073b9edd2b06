import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { resolveFfmpeg, resolveFfprobe } from '../../src/engines/ffmpeg.js';

/**
 * The media side of the fake Vertex AI Veo (test/support/fake-vertex.ts): real H.264/AAC MP4s at
 * 24 fps made with the bundled ffmpeg, and ffprobe's view of the videos callers send in.
 *
 * The encoder settings (`-preset ultrafast -profile:v main` with CABAC, 2 s GOP, 48 kHz stereo AAC) differ
 * on purpose from Longshot's own x264 `veryfast` encodes, so a test can tell an upstream clip
 * that was passed through from one Longshot re-encoded, as it could with Google's.
 */

const run = promisify(execFile);
const MAX_BUFFER = 64 * 1024 * 1024;
/** What Veo appends to a video it extends. */
const EXTENSION_SECONDS = 7;

const ENCODE = [
  // ultrafast alone signals Constrained Baseline; CABAC makes it a Main-profile stream.
  '-c:v',
  'libx264',
  '-preset',
  'ultrafast',
  '-profile:v',
  'main',
  '-x264-params',
  'cabac=1',
  '-pix_fmt',
  'yuv420p',
  '-r',
  '24',
  '-g',
  '48',
  '-c:a',
  'aac',
  '-b:a',
  '128k',
  '-ar',
  '48000',
  '-ac',
  '2',
  '-movflags',
  '+faststart',
];

/** One temp dir per test process for every clip the fakes make (removed at exit). */
let workDir: string | null = null;
function dir(): string {
  if (workDir === null) {
    workDir = mkdtempSync(join(tmpdir(), 'fake-vertex-'));
    const made = workDir;
    process.once('exit', () => rmSync(made, { recursive: true, force: true }));
  }
  return workDir;
}

/** A scratch path in the shared dir; `sub` keeps each fake's uploads apart. */
export function scratchPath(sub: string, name: string): string {
  const d = join(dir(), sub);
  mkdirSync(d, { recursive: true });
  return join(d, name);
}

export interface ClipSpec {
  width: number;
  height: number;
  seconds: number;
  audio: boolean;
}

/**
 * Generation clips are cached once per process by their spec (size, length, sound), like
 * fake-gemini's: every fake in the process hands out the same files.
 */
const clips = new Map<string, Promise<string>>();
export function veoClip(spec: ClipSpec): Promise<string> {
  const id = `${spec.width}x${spec.height}-${spec.seconds}s-${spec.audio ? 'av' : 'v'}`;
  let clip = clips.get(id);
  if (!clip) {
    const out = join(dir(), `gen-${id}.mp4`);
    const size = `${spec.width}x${spec.height}`;
    const audioIn = spec.audio ? ['-f', 'lavfi', '-i', 'sine=frequency=523:sample_rate=48000'] : [];
    clip = run(
      resolveFfmpeg(),
      [
        '-nostdin',
        '-v',
        'error',
        '-f',
        'lavfi',
        '-i',
        `color=c=0x1f4e79:size=${size}:rate=24`,
        ...audioIn,
        '-t',
        String(spec.seconds),
        ...ENCODE,
        ...(spec.audio ? [] : ['-an']),
        out,
      ],
      { maxBuffer: MAX_BUFFER },
    ).then(() => out);
    // A failed encode must not poison the cache for the rest of the process.
    clip.catch(() => clips.delete(id));
    clips.set(id, clip);
  }
  return clip;
}

export interface MediaInfo {
  seconds: number;
  width: number;
  height: number;
  audio: boolean;
}

/** ffprobe's view of a file, or null when it holds no decodable video stream. */
export async function probeVideo(path: string): Promise<MediaInfo | null> {
  try {
    const { stdout } = await run(resolveFfprobe(), ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', path], { maxBuffer: MAX_BUFFER });
    const data = JSON.parse(stdout) as {
      format?: { duration?: string };
      streams?: Array<{ codec_type?: string; width?: number; height?: number }>;
    };
    const v = data.streams?.find((s) => s.codec_type === 'video');
    const seconds = Number(data.format?.duration);
    if (!v?.width || !v.height || !Number.isFinite(seconds)) return null;
    return { seconds, width: v.width, height: v.height, audio: data.streams!.some((s) => s.codec_type === 'audio') };
  } catch {
    return null;
  }
}

/** Writes bytes a caller sent to a scratch file and probes it. */
export async function receiveVideo(sub: string, bytes: Buffer): Promise<{ path: string; info: MediaInfo | null }> {
  const path = scratchPath(sub, `in-${randomUUID()}.mp4`);
  await writeFile(path, bytes);
  return { path, info: await probeVideo(path) };
}

/**
 * What Veo answers to an extension: the input followed by 7 s of new picture and sound,
 * re-encoded as one file at the input's size. An input without sound gets silence under its part.
 */
export async function extendVideo(input: string, info: MediaInfo, out: string): Promise<string> {
  const size = `${info.width}x${info.height}`;
  const d = info.seconds.toFixed(3);
  const inputs = [
    '-i',
    input,
    '-f',
    'lavfi',
    '-t',
    String(EXTENSION_SECONDS),
    '-i',
    `color=c=0xd2691e:size=${size}:rate=24`,
    '-f',
    'lavfi',
    '-t',
    String(EXTENSION_SECONDS),
    '-i',
    'sine=frequency=784:sample_rate=48000',
    ...(info.audio ? [] : ['-f', 'lavfi', '-t', d, '-i', 'anullsrc=r=48000:cl=stereo']),
  ];
  const firstAudio = info.audio ? '[0:a]' : '[3:a]';
  const fmt = 'aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo';
  // The input's sound is padded or cut to its picture so the new part starts where the picture ends.
  const graph = [
    `[0:v]fps=24,scale=${size},setsar=1,format=yuv420p[v0]`,
    '[1:v]setsar=1,format=yuv420p[v1]',
    `${firstAudio}${fmt},apad,atrim=duration=${d}[a0]`,
    `[2:a]${fmt}[a1]`,
    '[v0][a0][v1][a1]concat=n=2:v=1:a=1[v][a]',
  ].join(';');
  await run(resolveFfmpeg(), ['-nostdin', '-v', 'error', ...inputs, '-filter_complex', graph, '-map', '[v]', '-map', '[a]', ...ENCODE, out], {
    maxBuffer: MAX_BUFFER,
  });
  return out;
}
