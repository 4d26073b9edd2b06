/**
 * Recognises JPEG, PNG and WebP by their magic numbers and reads width and height from the header
 * bytes, without decoding the image and without dependencies. File names and Content-Type are
 * never consulted: only the bytes count.
 */

export type ImageMime = 'image/jpeg' | 'image/png' | 'image/webp';

export type ImageProbe = { ok: true; mime: ImageMime; width: number; height: number } | { ok: false; reason: string };

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function dims(mime: ImageMime, width: number, height: number): ImageProbe {
  if (!(width > 0 && height > 0)) return { ok: false, reason: `${mime} header has no usable dimensions` };
  return { ok: true, mime, width, height };
}

function probePng(b: Buffer): ImageProbe {
  // Signature, then the first chunk must be IHDR: length(4) type(4) width(4) height(4).
  if (b.length < 24 || b.toString('latin1', 12, 16) !== 'IHDR') {
    return { ok: false, reason: 'PNG without an IHDR chunk' };
  }
  return dims('image/png', b.readUInt32BE(16), b.readUInt32BE(20));
}

/** Start-of-frame markers carry the frame size: C0–CF except DHT (C4), JPG (C8) and DAC (CC). */
function isSof(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

function probeJpeg(b: Buffer): ImageProbe {
  let i = 2; // after SOI (FF D8)
  while (i < b.length) {
    if (b[i] !== 0xff) return { ok: false, reason: 'JPEG marker stream is corrupt' };
    while (b[i] === 0xff) i++; // fill bytes
    const marker = b[i];
    i++;
    if (marker === undefined) break;
    // Markers without a length field: TEM, RST0–7, SOI.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8)) continue;
    if (marker === 0xd9 || marker === 0xda) break; // EOI or start of scan before any frame header
    if (i + 2 > b.length) break;
    const len = b.readUInt16BE(i);
    if (len < 2) return { ok: false, reason: 'JPEG segment length is corrupt' };
    if (isSof(marker)) {
      // length(2) precision(1) height(2) width(2)
      if (i + 7 > b.length) break;
      return dims('image/jpeg', b.readUInt16BE(i + 5), b.readUInt16BE(i + 3));
    }
    i += len;
  }
  return { ok: false, reason: 'JPEG without a frame header (SOFn)' };
}

function probeWebp(b: Buffer): ImageProbe {
  // RIFF <size> WEBP, then the first chunk: fourcc(4) size(4) data.
  const chunk = b.toString('latin1', 12, 16);
  const d = 20;
  if (chunk === 'VP8 ' && b.length >= d + 10) {
    // Lossy: frame tag (3 bytes), start code 9D 01 2A, then 14-bit width and height.
    if (b[d + 3] !== 0x9d || b[d + 4] !== 0x01 || b[d + 5] !== 0x2a) {
      return { ok: false, reason: 'WebP VP8 frame without a start code' };
    }
    return dims('image/webp', b.readUInt16LE(d + 6) & 0x3fff, b.readUInt16LE(d + 8) & 0x3fff);
  }
  if (chunk === 'VP8L' && b.length >= d + 5) {
    // Lossless: signature 0x2F, then 14 bits width-1 and 14 bits height-1, little-endian.
    if (b[d] !== 0x2f) return { ok: false, reason: 'WebP VP8L without its signature' };
    const bits = b.readUInt32LE(d + 1);
    return dims('image/webp', (bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1);
  }
  if (chunk === 'VP8X' && b.length >= d + 10) {
    // Extended: flags (4 bytes), then 24-bit canvas width-1 and height-1, little-endian.
    return dims('image/webp', b.readUIntLE(d + 4, 3) + 1, b.readUIntLE(d + 7, 3) + 1);
  }
  return { ok: false, reason: 'WebP without a readable VP8, VP8L or VP8X header' };
}

/** Identifies a JPEG, PNG or WebP image and reads its dimensions from the header bytes. */
export function probeImage(b: Buffer): ImageProbe {
  if (b.length >= 8 && b.subarray(0, 8).equals(PNG_SIGNATURE)) return probePng(b);
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return probeJpeg(b);
  if (b.length >= 12 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') {
    return probeWebp(b);
  }
  return { ok: false, reason: 'not a JPEG, PNG or WebP image' };
}
