import type { Mode } from '../../domain/models.js';

/**
 * Encoder settings. Every H.264 stream this engine writes uses the same header-shaping options
 * (profile, level, GOP, reference frames, B-frames, weighted prediction, CABAC, 8x8 transform,
 * `stitchable`), so the SPS/PPS of a `fast` and a `quality` encode are byte-identical and an
 * extension can be joined to its source with a stream copy. Modes differ only in options that
 * never reach the headers (preset speed knobs and CRF).
 */

export const FPS = 24;
/** MP4 video timescale: what ffmpeg picks for 1/24 (24 × 512), fixed so every file agrees. */
export const VIDEO_TIMESCALE = 12288;
/** Closed GOPs of 2 s. */
const GOP = 48;
const AUDIO_BITRATE = '160k';

export interface VideoEncodeSettings {
  preset: string;
  crf: number;
  /** Extra x264 options of this mode (never header-shaping ones). */
  extra: string;
}

/**
 * `fast`: veryfast, CRF 23. `quality`: medium, CRF 18 (about 1.5× the bits, finer motion search
 * and RD). Medium enables psy-RD, and x264 then lowers the PPS chroma QP offset by 2; we raise
 * it by 2 to keep the headers identical.
 */
function videoSettings(mode: Mode): VideoEncodeSettings {
  switch (mode) {
    case 'fast':
      return { preset: 'veryfast', crf: 23, extra: '' };
    case 'quality':
      return { preset: 'medium', crf: 18, extra: ':chroma-qp-offset=2' };
  }
}

/**
 * Settings for re-encoding a whole extended clip (watermark, foreign source): in fast mode a
 * quicker preset, since the clip is up to 20× longer than a continuation. `ultrafast` with our
 * header options (CABAC, 8×8 transform, B-frames, weighted prediction) plus the deblocking filter
 * it would switch off: about 30 % less CPU than `superfast`, at about `veryfast`'s size and SSIM
 * on these pictures (superfast, without mb-tree, spends twice the bits). None of its knobs
 * (motion search, partitions, AQ, lookahead, deblocking) reach the SPS/PPS.
 */
export function reencodeSettings(mode: Mode): VideoEncodeSettings {
  // b-adapt=0: fixed B-frame placement; deblock=0,0 turns the loop filter back on at strength 0.
  return mode === 'fast' ? { preset: 'ultrafast', crf: 23, extra: ':b-adapt=0:deblock=0,0' } : videoSettings(mode);
}

/** The x264 options shared by every encode (they shape SPS/PPS). */
function x264Params(threads: number, extra: string): string {
  return (
    [
      'stitchable=1',
      `keyint=${GOP}`,
      `min-keyint=${GOP}`,
      'scenecut=0',
      'open-gop=0',
      'bframes=2',
      'b-pyramid=none',
      'b-adapt=1',
      'ref=1',
      'weightp=1',
      'weightb=1',
      '8x8dct=1',
      'cabac=1',
      // A fixed thread count keeps the bitstream identical across machines.
      `threads=${threads}`,
    ].join(':') + extra
  );
}

/** Output options of the H.264 stream (place after the `-map` of the video). */
export function videoOutputArgs(mode: Mode, threads: number, fps: number = FPS, override?: Partial<VideoEncodeSettings>): string[] {
  const s = { ...videoSettings(mode), ...override };
  return [
    '-c:v',
    'libx264',
    '-preset',
    s.preset,
    '-crf',
    String(s.crf),
    '-profile:v',
    'high',
    '-level',
    '4.0',
    '-pix_fmt',
    'yuv420p',
    '-x264-params',
    x264Params(threads, s.extra),
    '-r',
    String(fps),
    '-color_primaries',
    'bt709',
    '-color_trc',
    'bt709',
    '-colorspace',
    'bt709',
    '-color_range',
    'tv',
    '-flags:v',
    '+bitexact',
  ];
}

/** Output options of the AAC stream. */
export function audioOutputArgs(): string[] {
  return ['-c:a', 'aac', '-b:a', AUDIO_BITRATE, '-ar', '48000', '-ac', '2', '-flags:a', '+bitexact'];
}

/** Container options: MP4, moov up front, no metadata or encoder strings, fixed timescale. */
export function containerArgs(): string[] {
  return [
    '-map_metadata',
    '-1',
    '-map_chapters',
    '-1',
    '-fflags',
    '+bitexact',
    '-video_track_timescale',
    String(VIDEO_TIMESCALE),
    '-movflags',
    '+faststart',
    '-f',
    'mp4',
  ];
}

/** A JPEG poster output (place after the `-map` of the poster stream). */
export function posterOutputArgs(): string[] {
  return ['-frames:v', '1', '-q:v', '3', '-flags:v', '+bitexact', '-map_metadata', '-1', '-f', 'image2', '-update', '1'];
}
