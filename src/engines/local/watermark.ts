import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { escapeFilterValue, opts } from './graph.js';

/**
 * The visible watermark: the caller's text in the shipped DejaVu font, bottom-right, white on a
 * semi-transparent dark box. The text travels through a file (`textfile=`, `expansion=none`), so
 * quotes, colons, commas, backslashes and `%{…}` sequences are drawn literally, never parsed.
 */

/** Collapses control characters (newlines, tabs…) to spaces and trims; null when nothing is left. */
export function cleanWatermarkText(text: string | null): string | null {
  if (text === null) return null;
  // Control characters are exactly what this removes (drawtext would draw them as boxes).
  const cleaned = text
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return cleaned.length > 0 ? cleaned : null;
}

/** Font size and margin for a frame: readable on phones, small enough not to dominate. */
function watermarkMetrics(width: number, height: number): { fontSize: number; margin: number; pad: number } {
  const short = Math.min(width, height);
  const fontSize = Math.max(12, Math.round(short * 0.045));
  return { fontSize, margin: Math.round(short * 0.035), pad: Math.round(fontSize * 0.4) };
}

/**
 * Writes the text file next to the job's temp files and returns the `drawtext` filter to append
 * to the final video chain.
 */
export async function watermarkFilter(opt: { text: string; fontPath: string; workDir: string; width: number; height: number }): Promise<string> {
  const textPath = join(opt.workDir, 'watermark.txt');
  await writeFile(textPath, opt.text, 'utf8');
  const m = watermarkMetrics(opt.width, opt.height);
  return `drawtext=${opts({
    fontfile: escapeFilterValue(opt.fontPath),
    textfile: escapeFilterValue(textPath),
    expansion: 'none',
    fontsize: m.fontSize,
    fontcolor: 'white@0.9',
    box: 1,
    boxcolor: 'black@0.45',
    boxborderw: m.pad,
    x: `w-tw-${m.margin + m.pad}`,
    y: `h-th-${m.margin + m.pad}`,
  })}`;
}
