import type { LocalImage } from '../engine.js';
import { opts, q } from './graph.js';

/**
 * Still images as ffmpeg inputs. They are sharp's re-encodes (src/net/clean-image.ts): JPEG or
 * PNG, already oriented, so ffmpeg needs neither WebP nor EXIF. The demuxer is chosen from the
 * MIME type, not from the file name (downloaded files have no extension), so a file whose bytes
 * do not match its type fails to decode and is reported as UNSUPPORTED_FORMAT.
 */

const DEMUXER: Record<LocalImage['mime'], string> = {
  'image/jpeg': 'jpeg_pipe',
  'image/png': 'png_pipe',
};

/** Input arguments that read one frame of the image. */
export function imageInputArgs(image: LocalImage): string[] {
  return ['-f', DEMUXER[image.mime], '-i', image.path];
}

/**
 * Filters that scale a still to cover `width`×`height` and crop the overflow (centred), in
 * RGB→BT.709 yuv420p with square pixels.
 */
export function fillFilters(width: number, height: number, pixFmt = 'yuv420p'): string[] {
  const cover = `max(${width}/iw,${height}/ih)`;
  return [
    // Keep only the first frame (an animated image would otherwise feed many).
    'trim=end_frame=1',
    'setsar=1',
    // Cover: the larger of the two ratios, rounded up to even sizes, never below the frame.
    `scale=${opts({ w: q(`max(${width},2*ceil(iw*${cover}/2))`), h: q(`max(${height},2*ceil(ih*${cover}/2))`), flags: 'bicubic', out_color_matrix: 'bt709', out_range: 'tv' })}`,
    `crop=${width}:${height}`,
    `format=${pixFmt}`,
    'setsar=1',
  ];
}
