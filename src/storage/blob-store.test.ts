import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { available } from '../../test/support/requires.js';
import { S3_TEST_CREDENTIALS, s3Unavailable, startTestS3, type TestS3 } from '../../test/support/s3-server.js';
import type { BlobStore } from './blob-store.js';
import { createFsBlobStore } from './fs-blob-store.js';
import { createS3BlobStore } from './s3-blob-store.js';

/**
 * The BlobStore port suite, run against every implementation: the filesystem always, S3 against
 * a local S3-compatible server when one is available (see test/support/s3-server.ts).
 */
let dir = '';
let s3: TestS3 | null = null;
const s3Missing = s3Unavailable();
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'longshot-blobs-'));
});
afterAll(async () => {
  await s3?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const IMPLEMENTATIONS: Array<{ name: string; skip: string | null; make: () => Promise<BlobStore> }> = [
  { name: 'fs', skip: null, make: async () => createFsBlobStore(join(dir, 'fs-store')) },
  {
    name: 's3',
    skip: s3Missing,
    make: async () => {
      s3 ??= await startTestS3(`longshot-test-${randomBytes(4).toString('hex')}`);
      return createS3BlobStore(
        { bucket: s3.bucket, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, prefix: 'p/', credentials: S3_TEST_CREDENTIALS },
        { tmpDir: join(dir, 's3-cache') },
      );
    },
  },
];

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks);
}

for (const impl of IMPLEMENTATIONS) {
  describe.skipIf(!available(`the ${impl.name} blob store`, impl.skip))(`blob store on ${impl.name}${impl.skip ? ` (skipped: ${impl.skip})` : ''}`, () => {
    let store: BlobStore;
    const data = randomBytes(200_000);
    beforeAll(async () => {
      store = await impl.make();
    });

    it('stores a finished file (taking it from the worker), stats and reads it whole and by range', async () => {
      const src = join(dir, `${impl.name}-src.mp4`);
      await writeFile(src, data);
      const put = await store.putFile('results/aaaa.mp4', src, 'video/mp4');
      expect(put.size).toBe(data.length);
      expect(put.contentType).toBe('video/mp4');
      expect(put.etag).toMatch(/^".+"$/);
      expect(existsSync(src)).toBe(false);
      const st = await store.stat('results/aaaa.mp4');
      expect(st).toEqual(put);
      expect((await bytesOf(await store.read('results/aaaa.mp4'))).equals(data)).toBe(true);
      const part = await bytesOf(await store.read('results/aaaa.mp4', { start: 1000, end: 1999 }));
      expect(part.equals(data.subarray(1000, 2000))).toBe(true);
      const tail = await bytesOf(await store.read('results/aaaa.mp4', { start: data.length - 1, end: data.length - 1 }));
      expect(tail.equals(data.subarray(data.length - 1))).toBe(true);
    });

    it('gives a local file with the bytes (ffmpeg input), and forgets the blob on delete', async () => {
      const path = await store.localPath('results/aaaa.mp4');
      expect((await readFile(path)).equals(data)).toBe(true);
      expect(await store.localPath('results/aaaa.mp4')).toBe(path);
      await store.delete('results/aaaa.mp4');
      expect(await store.stat('results/aaaa.mp4')).toBeNull();
      await store.delete('results/aaaa.mp4'); // deleting twice is fine
    });

    it('answers null for a blob that never existed and refuses keys that escape', async () => {
      expect(await store.stat('results/none.mp4')).toBeNull();
      await expect(store.localPath('../../etc/passwd')).rejects.toThrow();
    });
  });
}
