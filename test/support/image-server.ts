import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTestImage } from './media.js';

/** Test images served over real HTTP on loopback, as a client's image URLs would be. */
export interface ImageServer {
  url: string;
  dir: string;
  close(): Promise<void>;
}

/** The images the engine tests share: two 640×360 frames (PNG) and a reference (JPEG). */
const TEST_IMAGES: Record<string, string> = {
  'first.png': 'color=c=red:s=640x360',
  'last.png': 'color=c=blue:s=640x360',
  'ref.jpg': 'testsrc=s=640x360',
};

/**
 * Makes each `name → lavfi source` image with ffmpeg (a Buffer is served as it is) and serves the
 * directory at `url/name`.
 */
export async function startImageServer(images: Record<string, string | Buffer> = TEST_IMAGES): Promise<ImageServer> {
  const dir = await mkdtemp(join(tmpdir(), 'longshot-images-'));
  await Promise.all(
    Object.entries(images).map(([name, source]) => (typeof source === 'string' ? makeTestImage(source, join(dir, name)) : writeFile(join(dir, name), source))),
  );
  const server = createServer((req, res) => {
    const name = (req.url ?? '').slice(1);
    readFile(join(dir, name)).then(
      (bytes) => res.writeHead(200, { 'content-type': name.endsWith('.png') ? 'image/png' : 'image/jpeg' }).end(bytes),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    dir,
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
