/**
 * Decodes a downloaded input image with sharp (libvips, current libjpeg/libpng/libwebp shipped in
 * its npm packages) and re-encodes it, so that nothing after the download, neither the bundled
 * ffmpeg (a 2018 build) nor an upstream, ever parses bytes a client chose. Along the way the EXIF
 * orientation is applied (a portrait phone photo stored landscape becomes portrait), metadata is
 * stripped and an image that would decode to too many pixels is refused before it is decoded.
 */
import sharp, { type Metadata } from 'sharp';
import type { ImageMime } from './image-probe.js';

/**
 * 8192×8192 (about 67 megapixels): above every phone camera's full resolution (50 MP sensors
 * save 8160×6120) and the 60 MP of large-sensor cameras. Decoding needs about 3 bytes per pixel
 * (200 MB at the limit, as a 90° rotation holds the whole image), far less than a
 * 50000×50000 PNG of 300 bytes would ask for.
 */
export const MAX_IMAGE_PIXELS = 8192 * 8192;

/** The formats sharp writes: JPEG stays JPEG, everything else (PNG, WebP) becomes PNG. */
type CleanMime = 'image/jpeg' | 'image/png';

export type CleanImageResult =
  | { ok: true; data: Buffer; mime: CleanMime; width: number; height: number }
  | { ok: false; failCode: 'IMAGE_TOO_LARGE' | 'UNSUPPORTED_FORMAT'; message: string };

// Process-wide settings (Longshot uses sharp for nothing else). libvips' operation cache would
// keep decoded client images in memory between tasks for no gain: each is decoded once. And
// libvips may load only these three formats from memory, whatever its own format sniffing
// makes of the bytes: the magic-number check is not the only gate to its many other loaders.
sharp.cache(false);
sharp.block({ operation: ['VipsForeignLoad'] });
sharp.unblock({ operation: ['VipsForeignLoadJpegBuffer', 'VipsForeignLoadPngBuffer', 'VipsForeignLoadWebpBuffer'] });

const SHARP_FORMAT: Record<ImageMime, string> = { 'image/jpeg': 'jpeg', 'image/png': 'png', 'image/webp': 'webp' };

/** libvips repeats its warnings and spreads them over lines; the client needs the first. */
function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return (text.split('\n').find((l) => l.trim().length > 0) ?? text).trim();
}

const undecodable = (message: string): CleanImageResult => ({ ok: false, failCode: 'UNSUPPORTED_FORMAT', message });

/**
 * Decodes `bytes` (already recognised as `mime` by its magic number, which keeps libvips to its
 * JPEG, PNG and WebP loaders), orients it, and re-encodes it without metadata. Width and height
 * are those of the oriented picture. Only the first frame of an animated image is kept.
 */
export async function cleanImage(bytes: Buffer, mime: ImageMime, maxPixels = MAX_IMAGE_PIXELS): Promise<CleanImageResult> {
  // The header alone gives the size, so a bomb is refused before a single row is decoded. The
  // limit is applied again by the decode below, which reads the header for itself.
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    return undecodable(`cannot decode image: ${firstLine(err)}`);
  }
  if (meta.format !== SHARP_FORMAT[mime]) return undecodable(`image header says ${mime} but it decodes as ${meta.format ?? 'nothing'}`);
  const { width, height } = meta;
  if (!(width > 0 && height > 0)) return undecodable('image has no usable dimensions');
  if (width * height > maxPixels) {
    return {
      ok: false,
      failCode: 'IMAGE_TOO_LARGE',
      message: `image is ${width}×${height} pixels; at most ${maxPixels} pixels (${Math.round(maxPixels / 1e6)} megapixels) are accepted`,
    };
  }

  const outMime: CleanMime = mime === 'image/jpeg' ? 'image/jpeg' : 'image/png';
  try {
    // failOn 'warning' (sharp's advice for untrusted input): a truncated or corrupt image is
    // refused rather than rendered half grey. No withMetadata(): EXIF, XMP, ICC and comments
    // are dropped and the pixels converted to sRGB.
    const pipeline = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'warning', pages: 1 }).autoOrient();
    const encoded = outMime === 'image/jpeg' ? pipeline.jpeg({ quality: 95 }) : pipeline.png();
    const { data, info } = await encoded.toBuffer({ resolveWithObject: true });
    return { ok: true, data, mime: outMime, width: info.width, height: info.height };
  } catch (err) {
    return undecodable(`cannot decode image: ${firstLine(err)}`);
  }
}
