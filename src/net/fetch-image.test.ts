import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orientedJpeg, pngBomb } from '../../test/support/images.js';
import { fetchImage } from './fetch-image.js';

const FFMPEG = join(process.cwd(), 'node_modules/@ffmpeg-installer/linux-x64/ffmpeg');

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function close(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

describe('fetchImage', () => {
  let dir = '';
  const files = new Map<string, Buffer>();
  let port = 0;
  let targetPort = 0;
  let targetHits = 0;
  const hits: string[] = [];

  const target = http.createServer((_req, res) => {
    targetHits++;
    res.end(files.get('/a.png'));
  });

  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    const url = req.url ?? '';
    const file = files.get(url);
    if (file) {
      // Deliberately wrong Content-Type: only the bytes decide the format.
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': file.length });
      res.end(file);
      return;
    }
    switch (url) {
      case '/page.jpg':
        res.writeHead(200, { 'Content-Type': 'image/jpeg' });
        res.end('<!doctype html><html><body>not an image</body></html>');
        return;
      case '/big.png': {
        // 11 MiB, declared up front.
        const big = Buffer.alloc(11 * 1024 * 1024);
        files.get('/a.png')!.copy(big);
        res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': big.length });
        res.end(big);
        return;
      }
      case '/big-chunked.png': {
        // 11 MiB with no Content-Length: only counting the bytes read can catch it.
        res.writeHead(200, { 'Content-Type': 'image/png' });
        const chunk = Buffer.alloc(1024 * 1024);
        let sent = 0;
        const pump = (): void => {
          while (sent < 11 && !res.destroyed) {
            sent++;
            if (!res.write(chunk)) return;
          }
          if (sent >= 11) res.end();
        };
        res.on('drain', pump);
        pump();
        return;
      }
      case '/redirect.png':
        res.writeHead(302, { Location: `http://127.0.0.1:${targetPort}/internal.png` });
        res.end();
        return;
      case '/hang.png':
        return; // never answers
      default:
        res.writeHead(404);
        res.end('not found');
    }
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'longshot-img-'));
    const make = (name: string, args: string[]): void => {
      const out = join(dir, name);
      execFileSync(FFMPEG, ['-v', 'error', '-y', ...args, '-frames:v', '1', out]);
      files.set(`/${name}`, readFileSync(out));
    };
    make('a.png', ['-f', 'lavfi', '-i', 'testsrc=size=320x240']);
    make('b.jpg', ['-f', 'lavfi', '-i', 'testsrc=size=640x360']);
    make('lossy.webp', ['-f', 'lavfi', '-i', 'testsrc=size=200x100', '-c:v', 'libwebp']);
    make('lossless.webp', ['-f', 'lavfi', '-i', 'testsrc=size=201x101', '-c:v', 'libwebp', '-lossless', '1']);
    make('alpha.webp', ['-f', 'lavfi', '-i', 'color=c=red@0.5:size=203x103,format=rgba', '-c:v', 'libwebp', '-pix_fmt', 'yuva420p']);
    files.set('/photo.txt', files.get('/b.jpg')!); // misleading extension, real JPEG
    files.set('/portrait.jpg', await orientedJpeg(320, 180, 6));
    // A noisy JPEG cut in the middle of its entropy-coded data: the header still reads fine.
    const noise = await sharp(Buffer.from(Array.from({ length: 200 * 150 * 3 }, (_, i) => (i * 7919) % 251)), { raw: { width: 200, height: 150, channels: 3 } })
      .jpeg()
      .toBuffer();
    files.set('/truncated.jpg', noise.subarray(0, Math.floor(noise.length * 0.6)));
    files.set('/bomb.png', pngBomb(50_000, 50_000));
    port = await listen(server);
    targetPort = await listen(target);
  });
  afterAll(async () => {
    await close(server);
    await close(target);
    rmSync(dir, { recursive: true, force: true });
  });

  const open = { allowPrivate: true, timeoutMs: 5000 };

  it.each([
    ['/a.png', 'image/png', 320, 240],
    ['/b.jpg', 'image/jpeg', 640, 360],
    ['/photo.txt', 'image/jpeg', 640, 360],
    ['/lossy.webp', 'image/png', 200, 100], // VP8
    ['/lossless.webp', 'image/png', 201, 101], // VP8L
    ['/alpha.webp', 'image/png', 203, 103], // VP8X
  ])("downloads %s and writes sharp's re-encode as %s %ix%i, never the bytes it got", async (path, mime, width, height) => {
    const dest = join(dir, `out-${path.slice(1)}`);
    const r = await fetchImage(`http://127.0.0.1:${port}${path}`, dest, open);
    expect(r).toEqual({ ok: true, image: { path: dest, mime, width, height } });
    const written = readFileSync(dest);
    expect(written.equals(files.get(path)!)).toBe(false);
    const meta = await sharp(written).metadata();
    expect([`image/${meta.format}`, meta.width, meta.height]).toEqual([mime, width, height]);
  });

  it('applies the EXIF orientation: a portrait photo stored landscape is portrait, with no EXIF left', async () => {
    const dest = join(dir, 'out-portrait');
    const r = await fetchImage(`http://127.0.0.1:${port}/portrait.jpg`, dest, open);
    expect(r).toEqual({ ok: true, image: { path: dest, mime: 'image/jpeg', width: 180, height: 320 } });
    const meta = await sharp(readFileSync(dest)).metadata();
    expect([meta.width, meta.height, meta.orientation, meta.exif]).toEqual([180, 320, undefined, undefined]);
  });

  it('refuses a truncated JPEG as UNSUPPORTED_FORMAT', async () => {
    const dest = join(dir, 'out-truncated');
    const r = await fetchImage(`http://127.0.0.1:${port}/truncated.jpg`, dest, open);
    expect(r).toMatchObject({ ok: false, failCode: 'UNSUPPORTED_FORMAT' });
    expect(existsSync(dest)).toBe(false);
  });

  it('refuses a PNG declaring 50000×50000 as IMAGE_TOO_LARGE without decoding it', async () => {
    const dest = join(dir, 'out-bomb');
    const r = await fetchImage(`http://127.0.0.1:${port}/bomb.png`, dest, open);
    expect(r).toMatchObject({ ok: false, failCode: 'IMAGE_TOO_LARGE', message: expect.stringMatching(/50000×50000/) });
    expect(existsSync(dest)).toBe(false);
  });

  it('refuses 11 MiB as IMAGE_TOO_LARGE, by Content-Length and by bytes read', async () => {
    for (const path of ['/big.png', '/big-chunked.png']) {
      const dest = join(dir, `out-${path.slice(1)}`);
      const r = await fetchImage(`http://127.0.0.1:${port}${path}`, dest, open);
      expect(r, path).toMatchObject({ ok: false, failCode: 'IMAGE_TOO_LARGE' });
      expect(existsSync(dest)).toBe(false);
    }
  });

  it('honours a smaller maxBytes', async () => {
    const r = await fetchImage(`http://127.0.0.1:${port}/b.jpg`, join(dir, 'small.jpg'), { ...open, maxBytes: 1000 });
    expect(r).toMatchObject({ ok: false, failCode: 'IMAGE_TOO_LARGE' });
  });

  it('refuses an HTML page named .jpg as UNSUPPORTED_FORMAT', async () => {
    const dest = join(dir, 'page.jpg');
    const r = await fetchImage(`http://127.0.0.1:${port}/page.jpg`, dest, open);
    expect(r).toMatchObject({ ok: false, failCode: 'UNSUPPORTED_FORMAT' });
    expect(existsSync(dest)).toBe(false);
  });

  it('reports a 404 as IMAGE_DOWNLOAD_FAILED', async () => {
    const r = await fetchImage(`http://127.0.0.1:${port}/missing.png`, join(dir, 'missing.png'), open);
    expect(r).toMatchObject({ ok: false, failCode: 'IMAGE_DOWNLOAD_FAILED', message: expect.stringMatching(/404/) });
  });

  it('does not follow a redirect to a private address: IMAGE_DOWNLOAD_FAILED, target untouched', async () => {
    const r = await fetchImage(`http://127.0.0.1:${port}/redirect.png`, join(dir, 'redirect.png'), open);
    expect(r).toMatchObject({
      ok: false,
      failCode: 'IMAGE_DOWNLOAD_FAILED',
      message: expect.stringMatching(/redirects are not followed/),
    });
    expect(targetHits).toBe(0);
  });

  it('reports a server that never answers as IMAGE_DOWNLOAD_FAILED at the deadline', async () => {
    const r = await fetchImage(`http://127.0.0.1:${port}/hang.png`, join(dir, 'hang.png'), { ...open, timeoutMs: 300 });
    expect(r).toMatchObject({ ok: false, failCode: 'IMAGE_DOWNLOAD_FAILED' });
  });

  it('refuses loopback and unusable URLs as INVALID_IMAGE_URL without fetching', async () => {
    const before = hits.length;
    for (const url of [
      `http://127.0.0.1:${port}/a.png`,
      `http://localhost:${port}/a.png`,
      `http://[::ffff:127.0.0.1]:${port}/a.png`,
      `http://2130706433:${port}/a.png`,
      'http://169.254.169.254/latest/meta-data/',
      'ftp://example.com/a.png',
      'not a url',
    ]) {
      const r = await fetchImage(url, join(dir, 'never.png'), { allowPrivate: false });
      expect(r, url).toMatchObject({ ok: false, failCode: 'INVALID_IMAGE_URL' });
    }
    expect(hits.length).toBe(before);
    expect(existsSync(join(dir, 'never.png'))).toBe(false);
  });

  it('reports an unresolvable host as IMAGE_DOWNLOAD_FAILED', async () => {
    const lookup = async (): Promise<never> => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    };
    const r = await fetchImage('https://images.example/a.png', join(dir, 'dns.png'), { allowPrivate: false, lookup });
    expect(r).toMatchObject({ ok: false, failCode: 'IMAGE_DOWNLOAD_FAILED' });
  });
});
