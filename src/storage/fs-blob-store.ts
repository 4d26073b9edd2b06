import { createReadStream } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';
import type { Readable } from 'node:stream';
import type { BlobStore } from './blob-store.js';

/**
 * Blobs as files under one root directory. Blobs are written once and never changed, so size and
 * mtime make a strong ETag without reading the bytes.
 */
export function createFsBlobStore(root: string): BlobStore {
  const pathOf = (key: string): string => {
    const p = normalize(join(root, key));
    // Keys come from our own code, but never let one escape the root.
    if (!p.startsWith(normalize(root) + sep)) throw new Error(`blob key escapes the store: ${key}`);
    return p;
  };

  const contentTypeOf = (key: string): string => (key.endsWith('.mp4') ? 'video/mp4' : key.endsWith('.jpg') ? 'image/jpeg' : 'application/octet-stream');

  return {
    async putFile(key, localPath, contentType) {
      const dest = pathOf(key);
      await mkdir(dirname(dest), { recursive: true });
      const tmp = `${dest}.${process.pid}.tmp`;
      try {
        await rename(localPath, tmp);
      } catch {
        await copyFile(localPath, tmp); // another filesystem: copy, then drop the original
        await unlink(localPath).catch(() => {});
      }
      await rename(tmp, dest); // atomic: readers see the whole file or none
      const s = await stat(dest);
      return { size: s.size, etag: etagOf(s), contentType };
    },
    async stat(key) {
      try {
        const s = await stat(pathOf(key));
        return { size: s.size, etag: etagOf(s), contentType: contentTypeOf(key) };
      } catch {
        return null;
      }
    },
    async read(key, range): Promise<Readable> {
      return createReadStream(pathOf(key), range ? { start: range.start, end: range.end } : {});
    },
    async localPath(key) {
      return pathOf(key);
    },
    async delete(key) {
      await rm(pathOf(key), { force: true });
    },
  };
}

function etagOf(s: { size: number; mtimeMs: number }): string {
  return `"${s.size.toString(16)}-${Math.floor(s.mtimeMs).toString(16)}"`;
}
