import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { orientedJpeg, pngBomb } from '../../test/support/images.js';
import { cleanImage, MAX_IMAGE_PIXELS } from './clean-image.js';

/** Mean red and blue of the left and right quarters of a decoded image. */
async function sides(data: Buffer): Promise<{ left: [number, number]; right: [number, number] }> {
  const { data: px, info } = await sharp(data).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const mean = (x0: number, x1: number): [number, number] => {
    let r = 0;
    let b = 0;
    for (let y = 0; y < info.height; y++) {
      for (let x = x0; x < x1; x++) {
        const o = (y * info.width + x) * 3;
        r += px[o] ?? 0;
        b += px[o + 2] ?? 0;
      }
    }
    const n = info.height * (x1 - x0);
    return [r / n, b / n];
  };
  return { left: mean(0, Math.floor(info.width / 4)), right: mean(Math.ceil((info.width * 3) / 4), info.width) };
}

/** A noisy JPEG (so its entropy-coded data is long), optionally with its frame size patched. */
async function noiseJpeg(width: number, height: number): Promise<Buffer> {
  const raw = Buffer.from(Array.from({ length: width * height * 3 }, (_, i) => (i * 7919) % 251));
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .jpeg()
    .toBuffer();
}

describe('cleanImage', () => {
  it.each([
    // Stored 320×180, red top and blue bottom; 6 turns it clockwise, 8 anticlockwise.
    [6, 'blue', 'red'],
    [8, 'red', 'blue'],
  ])('applies EXIF orientation %i: portrait size, %s on the left, %s on the right, no metadata left', async (orientation, left, right) => {
    const r = await cleanImage(await orientedJpeg(320, 180, orientation), 'image/jpeg');
    if (!r.ok) throw new Error(r.message);
    expect([r.mime, r.width, r.height]).toEqual(['image/jpeg', 180, 320]);
    const meta = await sharp(r.data).metadata();
    expect([meta.width, meta.height, meta.orientation, meta.exif, meta.icc, meta.xmp]).toEqual([180, 320, undefined, undefined, undefined, undefined]);
    const s = await sides(r.data);
    const colour = ([red, blue]: [number, number]): string => (red > blue + 100 ? 'red' : blue > red + 100 ? 'blue' : 'mixed');
    expect([colour(s.left), colour(s.right)]).toEqual([left, right]);
  });

  it('keeps PNG as PNG and turns WebP (lossy, and with alpha) into PNG at the same size', async () => {
    const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: 'green' } })
      .png()
      .toBuffer();
    const webp = await sharp({ create: { width: 65, height: 49, channels: 3, background: 'green' } })
      .webp()
      .toBuffer();
    const alpha = await sharp({ create: { width: 66, height: 50, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0.5 } } })
      .webp()
      .toBuffer();
    const out = await Promise.all([cleanImage(png, 'image/png'), cleanImage(webp, 'image/webp'), cleanImage(alpha, 'image/webp')]);
    expect(out.map((r) => (r.ok ? [r.mime, r.width, r.height] : r.message))).toEqual([
      ['image/png', 64, 48],
      ['image/png', 65, 49],
      ['image/png', 66, 50],
    ]);
    const last = out[2]!;
    expect(last.ok && (await sharp(last.data).metadata()).format).toBe('png');
    expect(last.ok && (await sharp(last.data).metadata()).hasAlpha).toBe(true);
  });

  it('refuses truncated and garbage bytes as UNSUPPORTED_FORMAT', async () => {
    const jpeg = await noiseJpeg(200, 150);
    const cases: Array<[string, Buffer, 'image/jpeg' | 'image/png']> = [
      ['JPEG cut in its scan data', jpeg.subarray(0, Math.floor(jpeg.length * 0.6)), 'image/jpeg'],
      [
        'JPEG signature then noise',
        Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 31) % 256))]),
        'image/jpeg',
      ],
      [
        'PNG bytes that claim to be JPEG',
        await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } })
          .png()
          .toBuffer(),
        'image/jpeg',
      ],
      [
        'PNG with a broken IHDR CRC',
        (() => {
          const b = Buffer.from(pngBomb(16, 16));
          b[29] = (b[29] ?? 0) ^ 0xff;
          return b;
        })(),
        'image/png',
      ],
    ];
    for (const [name, bytes, mime] of cases) {
      expect(await cleanImage(bytes, mime), name).toMatchObject({ ok: false, failCode: 'UNSUPPORTED_FORMAT' });
    }
  });

  it('refuses image bombs by their declared size, as IMAGE_TOO_LARGE: a 300-byte PNG of 50000×50000, a JPEG header of 60000×60000', async () => {
    const bomb = pngBomb(50_000, 50_000);
    expect(bomb.length).toBeLessThan(1000);
    expect(await cleanImage(bomb, 'image/png')).toEqual({
      ok: false,
      failCode: 'IMAGE_TOO_LARGE',
      message: `image is 50000×50000 pixels; at most ${MAX_IMAGE_PIXELS} pixels (67 megapixels) are accepted`,
    });
    // The same JPEG with its frame header (SOF0: length, precision, height, width) rewritten.
    const jpeg = Buffer.from(await noiseJpeg(64, 64));
    const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
    jpeg.writeUInt16BE(60_000, sof + 5);
    jpeg.writeUInt16BE(60_000, sof + 7);
    expect(await cleanImage(jpeg, 'image/jpeg')).toMatchObject({ ok: false, failCode: 'IMAGE_TOO_LARGE', message: expect.stringMatching(/60000×60000/) });
  });

  it('takes a lower pixel limit', async () => {
    const png = await sharp({ create: { width: 101, height: 100, channels: 3, background: 'red' } })
      .png()
      .toBuffer();
    expect(await cleanImage(png, 'image/png', 101 * 100)).toMatchObject({ ok: true, width: 101, height: 100 });
    expect(await cleanImage(png, 'image/png', 100 * 100)).toMatchObject({ ok: false, failCode: 'IMAGE_TOO_LARGE' });
  });

  it('leaves libvips no loader but JPEG, PNG and WebP', async () => {
    const tiff = await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } })
      .tiff()
      .toBuffer();
    const gif = await sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } })
      .gif()
      .toBuffer();
    await expect(sharp(tiff).metadata()).rejects.toThrow();
    await expect(sharp(gif).metadata()).rejects.toThrow();
  });
});
