import type { LocalImage } from '../engine.js';
import { runFfmpeg } from '../ffmpeg.js';

/** White space kept around each reference, so the model sees separate subjects rather than one. */
const MARGIN = 16;

/**
 * Composes 2–3 references into one picture of the video's size (docs/comfyui.md, references):
 * `WanVaceToVideo` encodes only the first image of its `reference_image` batch, so the references
 * stand side by side on a white canvas, as VACE's authors and Comfy-Org's notes ask for a reference
 * on a plain background. Each gets an equal cell (a row for a landscape video, a column for a
 * portrait one), scaled to fit without cropping, centred; a transparent PNG is flattened onto the white.
 * The canvas is the video's own size because the node scales and centre-crops the picture to it.
 */
export async function composeReferences(
  ffmpegPath: string,
  images: readonly LocalImage[],
  size: readonly [number, number],
  outPath: string,
  signal: AbortSignal,
): Promise<void> {
  const [width, height] = size;
  const n = images.length;
  const row = width >= height;
  const cellW = row ? Math.floor(width / n) : width;
  const cellH = row ? height : Math.floor(height / n);
  const fitW = Math.max(1, cellW - 2 * MARGIN);
  const fitH = Math.max(1, cellH - 2 * MARGIN);
  const graph = [`color=c=white:s=${width}x${height}:d=1,format=rgb24[c0]`];
  for (let i = 0; i < n; i++) {
    graph.push(`[${i}:v]scale=w=${fitW}:h=${fitH}:force_original_aspect_ratio=decrease,setsar=1[r${i}]`);
    // Each picture centred in its cell: `w`/`h` are the scaled picture's size inside overlay.
    const x = row ? `${i * cellW}+(${cellW}-w)/2` : `(${width}-w)/2`;
    const y = row ? `(${height}-h)/2` : `${i * cellH}+(${cellH}-h)/2`;
    graph.push(`[c${i}][r${i}]overlay=x=${x}:y=${y}:format=rgb${i === n - 1 ? ',format=rgb24[out]' : `[c${i + 1}]`}`);
  }
  await runFfmpeg(
    ffmpegPath,
    [
      '-y',
      '-v',
      'error',
      ...images.flatMap((img) => ['-i', img.path]),
      '-filter_complex',
      graph.join(';'),
      '-map',
      '[out]',
      '-frames:v',
      '1',
      '-map_metadata',
      '-1',
      '-f',
      'image2',
      '-c:v',
      'png',
      outPath,
    ],
    signal,
  );
}
