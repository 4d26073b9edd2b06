import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { resolveFfmpeg, resolveFfprobe } from '../../src/engines/ffmpeg.js';

/**
 * Media assertions for tests: what ffprobe says about a file, and hashes or pixels of its
 * decoded frames (decoded by the same ffmpeg the engine uses).
 */

const run = promisify(execFile);
const MAX_BUFFER = 512 * 1024 * 1024;

export interface ProbeResult {
  /** Container duration, seconds. */
  durationSec: number;
  formatName: string;
  video: {
    codec: string;
    profile: string | null;
    width: number;
    height: number;
    /** Frames per second (r_frame_rate as a number). */
    fps: number;
    pixFmt: string;
    durationSec: number;
    frames: number;
  };
  audio: { codec: string; sampleRate: number; channels: number; durationSec: number } | null;
}

interface FfprobeStream {
  codec_type?: string;
  codec_name?: string;
  profile?: string;
  width?: number;
  height?: number;
  r_frame_rate?: string;
  pix_fmt?: string;
  sample_rate?: string;
  channels?: number;
  duration?: string;
  nb_frames?: string;
}

function rate(text: string | undefined): number {
  const [n, d] = (text ?? '0/1').split('/').map(Number);
  return n !== undefined && d ? n / d : 0;
}

/** ffprobe's view of a media file (first video and first audio stream). */
export async function probe(path: string): Promise<ProbeResult> {
  const { stdout } = await run(resolveFfprobe(), ['-v', 'error', '-show_format', '-show_streams', '-of', 'json', path], { maxBuffer: MAX_BUFFER });
  const data = JSON.parse(stdout) as { format: { duration?: string; format_name?: string }; streams: FfprobeStream[] };
  const v = data.streams.find((s) => s.codec_type === 'video');
  const a = data.streams.find((s) => s.codec_type === 'audio');
  if (!v) throw new Error(`${path} has no video stream`);
  return {
    durationSec: Number(data.format.duration ?? 'NaN'),
    formatName: data.format.format_name ?? '',
    video: {
      codec: v.codec_name ?? '',
      profile: v.profile ?? null,
      width: v.width ?? 0,
      height: v.height ?? 0,
      fps: rate(v.r_frame_rate),
      pixFmt: v.pix_fmt ?? '',
      durationSec: Number(v.duration ?? 'NaN'),
      frames: Number(v.nb_frames ?? 'NaN'),
    },
    audio: a
      ? {
          codec: a.codec_name ?? '',
          sampleRate: Number(a.sample_rate ?? 0),
          channels: a.channels ?? 0,
          durationSec: Number(a.duration ?? 'NaN'),
        }
      : null,
  };
}

/**
 * MD5 of every decoded video frame (ffmpeg's `framemd5` muxer), in presentation order.
 * `from`/`to` select frame indexes (inclusive `from`, exclusive `to`).
 */
export async function frameHashes(path: string, range: { from?: number; to?: number } = {}): Promise<string[]> {
  const { stdout } = await run(resolveFfmpeg(), ['-v', 'error', '-i', path, '-map', '0:v:0', '-vsync', '0', '-f', 'framemd5', '-'], { maxBuffer: MAX_BUFFER });
  const hashes = stdout
    .split('\n')
    .filter((line) => line.length > 0 && !line.startsWith('#'))
    .map((line) => line.split(',').pop()?.trim() ?? '');
  return hashes.slice(range.from ?? 0, range.to ?? hashes.length);
}

/** MD5 of every decoded audio frame, for comparing sound between renders. */
export async function audioHashes(path: string): Promise<string[]> {
  const { stdout } = await run(resolveFfmpeg(), ['-v', 'error', '-i', path, '-map', '0:a:0', '-f', 'framemd5', '-'], { maxBuffer: MAX_BUFFER });
  return stdout
    .split('\n')
    .filter((line) => line.length > 0 && !line.startsWith('#'))
    .map((line) => line.split(',').pop()?.trim() ?? '');
}

/** Decoded samples of the first audio channel from `fromSec` for `durSec` seconds, as floats. */
export async function audioSamples(path: string, fromSec: number, durSec: number): Promise<Float32Array> {
  const { stdout } = await run(
    resolveFfmpeg(),
    ['-v', 'error', '-i', path, '-map', '0:a:0', '-af', `atrim=start=${fromSec}:duration=${durSec},pan=mono|c0=c0`, '-f', 'f32le', '-'],
    { encoding: 'buffer', maxBuffer: MAX_BUFFER },
  );
  const copy = new Uint8Array(stdout.length);
  copy.set(stdout);
  return new Float32Array(copy.buffer, 0, Math.floor(stdout.length / 4));
}

export interface RgbFrame {
  width: number;
  height: number;
  /** rgb24, row-major, `width * height * 3` bytes. */
  data: Buffer;
}

/** The decoded frame at `index` as rgb24 (BT.709 tagged streams are converted accordingly). */
export async function frameAt(path: string, index: number): Promise<RgbFrame> {
  const p = await probe(path);
  const { width, height } = p.video;
  const { stdout } = await run(
    resolveFfmpeg(),
    ['-v', 'error', '-i', path, '-map', '0:v:0', '-vf', `select=eq(n\\,${index})`, '-vsync', '0', '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
    { encoding: 'buffer', maxBuffer: MAX_BUFFER },
  );
  if (stdout.length !== width * height * 3) throw new Error(`frame ${index} of ${path} not found`);
  return { width, height, data: stdout };
}

/** Mean of each channel over a rectangle of a frame (defaults to the whole frame). */
export function meanRgb(frame: RgbFrame, rect?: { x: number; y: number; w: number; h: number }): [number, number, number] {
  const r = rect ?? { x: 0, y: 0, w: frame.width, h: frame.height };
  const sum = [0, 0, 0];
  for (let y = r.y; y < r.y + r.h; y++) {
    for (let x = r.x; x < r.x + r.w; x++) {
      const o = (y * frame.width + x) * 3;
      for (let c = 0; c < 3; c++) sum[c] = (sum[c] ?? 0) + (frame.data[o + c] ?? 0);
    }
  }
  const n = r.w * r.h;
  return [(sum[0] ?? 0) / n, (sum[1] ?? 0) / n, (sum[2] ?? 0) / n];
}

/** Mean absolute difference per channel value (0..255) between two frames of the same size. */
export function meanAbsDiff(a: RgbFrame, b: RgbFrame, rect?: { x: number; y: number; w: number; h: number }): number {
  if (a.width !== b.width || a.height !== b.height) throw new Error('frames differ in size');
  const r = rect ?? { x: 0, y: 0, w: a.width, h: a.height };
  let sum = 0;
  for (let y = r.y; y < r.y + r.h; y++) {
    for (let x = r.x; x < r.x + r.w; x++) {
      const o = (y * a.width + x) * 3;
      for (let c = 0; c < 3; c++) sum += Math.abs((a.data[o + c] ?? 0) - (b.data[o + c] ?? 0));
    }
  }
  return sum / (r.w * r.h * 3);
}

/** Writes a still test image with ffmpeg's lavfi sources (e.g. `testsrc=s=640x480`). */
export async function makeTestImage(source: string, outPath: string): Promise<void> {
  await run(resolveFfmpeg(), ['-v', 'error', '-y', '-f', 'lavfi', '-i', source, '-frames:v', '1', outPath]);
}
