import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runFfmpeg } from '../ffmpeg.js';
import { containerArgs } from './encode.js';

/**
 * Joins H.264 parts that share their stream headers with the concat demuxer and adds the sound,
 * all by stream copy: every part's frames decode exactly as they did in their own file.
 */
export async function joinParts(
  ffmpegPath: string,
  workDir: string,
  videoParts: readonly string[],
  audioPath: string,
  outPath: string,
  signal: AbortSignal,
  onProgress?: (outSeconds: number) => void,
): Promise<void> {
  const listPath = join(workDir, 'concat.txt');
  const quote = (p: string): string => `'${p.replace(/'/g, `'\\''`)}'`;
  await writeFile(listPath, `ffconcat version 1.0\n${videoParts.map((p) => `file ${quote(p)}\n`).join('')}`, 'utf8');
  await runFfmpeg(
    ffmpegPath,
    ['-y', '-f', 'concat', '-safe', '0', '-i', listPath, '-i', audioPath, '-map', '0:v:0', '-map', '1:a:0', '-c', 'copy', ...containerArgs(), outPath],
    signal,
    { onProgress },
  );
}
