import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3Config } from '../config.js';
import type { BlobStat, BlobStore } from './blob-store.js';

export interface S3BlobStoreOptions {
  /** Where `localPath` keeps downloaded copies (ffmpeg needs a file, e.g. an extend's source). */
  tmpDir: string;
  /** A client to use instead of one built from the config (tests). */
  client?: S3Client;
}

/**
 * Result files in an S3-compatible bucket, so every worker can write and every API process can
 * read them. The file route still serves the bytes itself (it proxies `read` with Range), so
 * result URLs keep their signature, expiry, 410-after-retention and ETag behaviour whatever the
 * store; the bucket can stay private.
 */
export function createS3BlobStore(config: S3Config, opts: S3BlobStoreOptions): BlobStore {
  const client =
    opts.client ??
    new S3Client({
      region: config.region,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      forcePathStyle: config.forcePathStyle,
      ...(config.credentials ? { credentials: config.credentials } : {}),
    });
  const Bucket = config.bucket;
  const objectKey = (key: string): string => {
    if (key.split('/').some((part) => part === '..' || part === '')) throw new Error(`blob key is not a plain relative path: ${key}`);
    return config.prefix + key;
  };
  const cachePath = (key: string): string => {
    const ext = /\.[a-z0-9]{1,5}$/i.exec(key)?.[0] ?? '';
    return join(opts.tmpDir, createHash('sha256').update(key).digest('hex').slice(0, 32) + ext);
  };

  return {
    async putFile(key, localPath, contentType): Promise<BlobStat> {
      const size = (await stat(localPath)).size;
      const res = await client.send(
        new PutObjectCommand({ Bucket, Key: objectKey(key), Body: createReadStream(localPath), ContentLength: size, ContentType: contentType }),
      );
      // The bytes are in the bucket now; the worker's local copy is no longer needed.
      await unlink(localPath).catch(() => {});
      return { size, etag: res.ETag ?? `"${size.toString(16)}"`, contentType };
    },
    async stat(key): Promise<BlobStat | null> {
      try {
        const h = await client.send(new HeadObjectCommand({ Bucket, Key: objectKey(key) }));
        return { size: Number(h.ContentLength ?? 0), etag: h.ETag ?? '""', contentType: h.ContentType ?? 'application/octet-stream' };
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    },
    async read(key, range): Promise<Readable> {
      const res = await client.send(new GetObjectCommand({ Bucket, Key: objectKey(key), ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}) }));
      const body = res.Body;
      if (!body) throw new Error(`S3 returned no body for ${key}`);
      // In Node the SDK's body is an http.IncomingMessage (a Readable) with helper methods mixed in.
      return body instanceof Readable ? body : Readable.fromWeb((body as unknown as { transformToWebStream(): never }).transformToWebStream());
    },
    async localPath(key): Promise<string> {
      // Blobs never change once written, so a cached copy stays valid until the blob is deleted.
      const path = cachePath(key);
      try {
        await stat(path);
        return path;
      } catch {
        // not cached yet
      }
      await mkdir(opts.tmpDir, { recursive: true });
      const tmp = `${path}.${process.pid}.${Date.now()}.part`;
      try {
        await pipeline(await this.read(key), createWriteStream(tmp));
        await rename(tmp, path);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
      return path;
    },
    async delete(key): Promise<void> {
      await client.send(new DeleteObjectCommand({ Bucket, Key: objectKey(key) }));
      await rm(cachePath(key), { force: true });
    },
  };
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}
