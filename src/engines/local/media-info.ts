import { runFfmpeg } from '../ffmpeg.js';

/**
 * Facts about a video file, read with ffmpeg alone (the engine does not need ffprobe): a stream
 * copy into the `framecrc` muxer lists every packet with its timestamps and each stream's
 * codec, size, time base and a CRC of its codec headers (for H.264, the SPS/PPS in `avcC`),
 * without decoding anything.
 */
export interface VideoFacts {
  codec: string;
  width: number;
  height: number;
  /** Time base denominator (numerator is 1 for MP4 tracks). */
  timescale: number;
  frames: number;
  /** From the first frame's presentation time to the end of the last frame, in seconds. */
  durationSec: number;
  /** Frames per second, from frame count and duration. */
  fps: number;
  /** `size, crc` of the codec headers, or null when the stream has none. */
  extradata: string | null;
  /** Every packet in decode order: timestamps in the stream's time base, and whether it is a keyframe. */
  packets: VideoPacket[];
}

export interface VideoPacket {
  dts: number;
  pts: number;
  key: boolean;
}

export interface MediaFacts {
  video: VideoFacts;
  audio: { codec: string; sampleRate: number; channels: string } | null;
}

interface StreamHeader {
  mediaType?: string;
  codec?: string;
  tb?: [number, number];
  dimensions?: [number, number];
  sampleRate?: number;
  channels?: string;
  extradata?: string;
  minPts: number;
  maxEnd: number;
  packets: number;
  list: VideoPacket[];
}

/** Parses framecrc output (exported for tests). */
export function parseFramecrc(text: string): MediaFacts | null {
  const streams = new Map<number, StreamHeader>();
  const stream = (i: number): StreamHeader => {
    let s = streams.get(i);
    if (!s) {
      s = { minPts: Number.POSITIVE_INFINITY, maxEnd: Number.NEGATIVE_INFINITY, packets: 0, list: [] };
      streams.set(i, s);
    }
    return s;
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.length === 0) continue;
    if (line.startsWith('#')) {
      const m = /^#(\w+) (\d+):\s*(.*)$/.exec(line);
      if (!m) continue;
      const [, key, idx, value] = m as unknown as [string, string, string, string];
      const s = stream(Number(idx));
      if (key === 'media_type') s.mediaType = value;
      else if (key === 'codec_id') s.codec = value;
      else if (key === 'tb') {
        const [n, d] = value.split('/').map(Number);
        if (n && d) s.tb = [n, d];
      } else if (key === 'dimensions') {
        const [w, h] = value.split('x').map(Number);
        if (w && h) s.dimensions = [w, h];
      } else if (key === 'sample_rate') s.sampleRate = Number(value);
      else if (key === 'channel_layout_name') s.channels = value;
      else if (key === 'extradata') s.extradata = value.replace(/\s+/g, ' ');
      continue;
    }
    const cols = line.split(',').map((c) => c.trim());
    const [idx, dts, pts, dur] = cols.map(Number);
    if (idx === undefined || pts === undefined || dur === undefined || Number.isNaN(pts)) continue;
    const s = stream(idx);
    s.packets += 1;
    // framecrc appends `F=0x…` to packets whose flags are not exactly "keyframe".
    if (s.mediaType === 'video') s.list.push({ dts: dts ?? pts, pts, key: !cols.some((c) => c.startsWith('F=')) });
    s.minPts = Math.min(s.minPts, pts);
    s.maxEnd = Math.max(s.maxEnd, pts + dur);
  }
  const entries = [...streams.values()];
  const v = entries.find((s) => s.mediaType === 'video');
  if (!v?.tb || !v.dimensions || v.packets === 0) return null;
  const durationSec = ((v.maxEnd - v.minPts) * v.tb[0]) / v.tb[1];
  const a = entries.find((s) => s.mediaType === 'audio' && s.packets > 0);
  return {
    video: {
      codec: v.codec ?? 'unknown',
      width: v.dimensions[0],
      height: v.dimensions[1],
      timescale: v.tb[1] / v.tb[0],
      frames: v.packets,
      durationSec,
      fps: durationSec > 0 ? v.packets / durationSec : 0,
      extradata: v.extradata ?? null,
      packets: v.list,
    },
    audio: a ? { codec: a.codec ?? 'unknown', sampleRate: a.sampleRate ?? 0, channels: a.channels ?? 'unknown' } : null,
  };
}

/**
 * Reads the facts of `path` (first video stream and first audio stream). With `headerOnly`,
 * stops after one packet per stream: enough for codec headers, not for durations.
 */
export async function inspectMedia(ffmpegPath: string, path: string, signal: AbortSignal, headerOnly = false): Promise<MediaFacts | null> {
  const { stdout } = await runFfmpeg(
    ffmpegPath,
    ['-v', 'error', '-i', path, '-map', '0:v:0', '-map', '0:a:0?', '-c', 'copy', ...(headerOnly ? ['-frames:v', '1'] : []), '-f', 'framecrc', '-'],
    signal,
    { captureStdout: true },
  );
  return parseFramecrc(stdout);
}
