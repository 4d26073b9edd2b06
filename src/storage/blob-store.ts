import type { Readable } from 'node:stream';

export interface BlobStat {
  size: number;
  /** Strong validator for the bytes; stable for the life of the blob. */
  etag: string;
  contentType: string;
}

/** Where result files live. Keys are relative paths such as `results/<taskId>.mp4`. */
export interface BlobStore {
  /** Moves or copies a finished local file into the store and returns its stat. */
  putFile(key: string, localPath: string, contentType: string): Promise<BlobStat>;
  stat(key: string): Promise<BlobStat | null>;
  /** Streams the bytes `start..end` inclusive, or all of them. */
  read(key: string, range?: { start: number; end: number }): Promise<Readable>;
  /** A local path with the blob's bytes, for engines that need a file (e.g. ffmpeg input). */
  localPath(key: string): Promise<string>;
  delete(key: string): Promise<void>;
}
