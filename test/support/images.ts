import { deflateSync } from 'node:zlib';
import sharp from 'sharp';

/**
 * Input images that ffmpeg's lavfi sources cannot make: a photo whose pixels are stored
 * landscape with an EXIF orientation tag (as phones save portrait shots), and an image bomb.
 */

/**
 * A JPEG whose stored pixels are `width`×`height`, top half red and bottom half blue, with EXIF
 * `orientation`. With 6 (rotate 90° clockwise to display) a viewer shows it portrait,
 * `height`×`width`, red on the right and blue on the left.
 */
export async function orientedJpeg(width: number, height: number, orientation: number): Promise<Buffer> {
  const half = Math.round(height / 2);
  const solid = (r: number, g: number, b: number, h: number): Promise<Buffer> =>
    sharp({ create: { width, height: h, channels: 3, background: { r, g, b } } })
      .png()
      .toBuffer();
  return sharp({ create: { width, height, channels: 3, background: { r: 0, g: 0, b: 0 } } })
    .composite([
      { input: await solid(230, 20, 20, half), top: 0, left: 0 },
      { input: await solid(20, 20, 230, height - half), top: half, left: 0 },
    ])
    .jpeg({ quality: 90 })
    .withMetadata({ orientation })
    .toBuffer();
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/**
 * A well-formed PNG of a few hundred bytes that declares `width`×`height` 8-bit grey pixels
 * (valid CRCs, a zlib stream of the first rows): decoding it would need width × height bytes.
 */
export function pngBomb(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const rows = deflateSync(Buffer.alloc((width + 1) * 4));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', rows),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}
