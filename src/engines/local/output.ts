import type { Mode } from '../../domain/models.js';
import { runFfmpeg } from '../ffmpeg.js';
import type { RenderContext } from './context.js';
import { audioOutputArgs, containerArgs, posterOutputArgs, type VideoEncodeSettings, videoOutputArgs } from './encode.js';
import { type GraphBuilder, opts, q } from './graph.js';
import { watermarkFilter } from './watermark.js';

/**
 * The last step of a render that encodes everything in one ffmpeg run: optional watermark over
 * the finished picture, a JPEG poster picked from the same frames, H.264 + AAC into the MP4.
 */
export interface FinalEncode {
  /** ffmpeg input arguments (`-i …` groups) the graph refers to by index. */
  inputs: string[];
  graph: GraphBuilder;
  video: string;
  audio: string;
  width: number;
  height: number;
  mode: Mode;
  watermark: string | null;
  /** The poster: frame `frame` of `label` (default: of the final video). Watermarked too. */
  poster: { frame: number; label?: string };
  /** Output frame rate. */
  fps: number;
  outVideoPath: string;
  outPosterPath: string;
  /** Replace the mode's encoder preset (e.g. a quicker one for a whole-chain re-encode). */
  override?: Partial<VideoEncodeSettings>;
  /** ffmpeg's output time, seconds (step-progress.ts). */
  onProgress?: (outSeconds: number) => void;
}

export async function encodeFinal(ctx: RenderContext, job: FinalEncode): Promise<void> {
  const g = job.graph;
  const drawtext =
    job.watermark === null
      ? null
      : await watermarkFilter({ text: job.watermark, fontPath: ctx.fontPath, workDir: ctx.workDir, width: job.width, height: job.height });
  const marked = (label: string): string => (drawtext === null ? label : g.chain(label, [drawtext]));
  const pick = `select=${opts({ expr: q(`eq(n,${job.poster.frame})`) })}`;

  let out: string;
  let poster: string;
  if (job.poster.label === undefined) {
    out = g.label('vout');
    const posterIn = g.label('pin');
    g.chain(marked(job.video), ['split=2'], `${out}${posterIn}`);
    poster = g.chain(posterIn, [pick]);
  } else {
    out = marked(job.video);
    poster = marked(g.chain(job.poster.label, [pick]));
  }

  const args = [
    '-y',
    ...job.inputs,
    '-filter_complex',
    g.toString(),
    '-map',
    out,
    '-map',
    job.audio,
    ...videoOutputArgs(job.mode, ctx.threads, job.fps, job.override),
    ...audioOutputArgs(),
    ...containerArgs(),
    job.outVideoPath,
    '-map',
    poster,
    ...posterOutputArgs(),
    job.outPosterPath,
  ];
  await runFfmpeg(ctx.ffmpegPath, args, ctx.signal, { onProgress: job.onProgress });
}
