/**
 * Downloads one input image (`input.image_urls`) through the guarded client, checks it by
 * content (JPEG, PNG or WebP by magic number) and hands on only sharp's re-encoded, oriented
 * copy (clean-image.ts): the rest of the pipeline never reads the client's bytes.
 */
import { writeFile } from 'node:fs/promises';
import type { LocalImage } from '../engines/engine.js';
import { cleanImage } from './clean-image.js';
import { type GuardedFailureKind, guardedRequest, type LookupFn } from './guarded-http.js';
import { probeImage } from './image-probe.js';

const DEFAULT_IMAGE_MAX_BYTES = 10 * 1024 * 1024;
const DEFAULT_IMAGE_TIMEOUT_MS = 30_000;

type ImageFailCode = 'IMAGE_DOWNLOAD_FAILED' | 'INVALID_IMAGE_URL' | 'IMAGE_TOO_LARGE' | 'UNSUPPORTED_FORMAT';

export interface FetchImageOptions {
  /** Operator switch for local development: allows private and loopback addresses. */
  allowPrivate: boolean;
  /** Default 10 MiB. */
  maxBytes?: number;
  /** One deadline for the whole download. Default 30 s. */
  timeoutMs?: number;
  lookup?: LookupFn;
  signal?: AbortSignal;
}

export type FetchImageResult = { ok: true; image: LocalImage } | { ok: false; failCode: ImageFailCode; message: string };

function failCodeFor(kind: GuardedFailureKind): ImageFailCode {
  switch (kind) {
    case 'blocked':
      return 'INVALID_IMAGE_URL';
    case 'too_large':
      return 'IMAGE_TOO_LARGE';
    case 'dns':
    case 'connect':
    case 'timeout':
    case 'tls':
    case 'protocol':
    case 'aborted':
      return 'IMAGE_DOWNLOAD_FAILED';
  }
}

/**
 * Fetches `url` (http or https, public addresses only unless `allowPrivate`) and writes the bytes
 * to `destPath`. Redirects are not followed: a 3xx is IMAGE_DOWNLOAD_FAILED, so a redirect can
 * never lead the fetch to a private address. Network and content outcomes are values; a failure
 * to write `destPath` is a fault of this machine and is thrown.
 */
export async function fetchImage(url: string, destPath: string, opts: FetchImageOptions): Promise<FetchImageResult> {
  const maxBytes = opts.maxBytes ?? DEFAULT_IMAGE_MAX_BYTES;
  const res = await guardedRequest(url, {
    method: 'GET',
    headers: { Accept: 'image/jpeg, image/png, image/webp' },
    timeoutMs: opts.timeoutMs ?? DEFAULT_IMAGE_TIMEOUT_MS,
    maxResponseBytes: maxBytes,
    allowPrivate: opts.allowPrivate,
    requireHttps: false,
    ...(opts.lookup ? { lookup: opts.lookup } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (!res.ok) {
    const failCode = failCodeFor(res.kind);
    const message = failCode === 'IMAGE_TOO_LARGE' ? `image is larger than ${maxBytes} bytes` : `cannot download image: ${res.message}`;
    return { ok: false, failCode, message };
  }
  if (res.status >= 300 && res.status < 400) {
    return {
      ok: false,
      failCode: 'IMAGE_DOWNLOAD_FAILED',
      message: `image URL answered ${res.status} (redirects are not followed; give the final URL)`,
    };
  }
  if (res.status < 200 || res.status >= 300) {
    return { ok: false, failCode: 'IMAGE_DOWNLOAD_FAILED', message: `image URL answered HTTP ${res.status}` };
  }
  const probe = probeImage(res.body);
  if (!probe.ok) {
    return { ok: false, failCode: 'UNSUPPORTED_FORMAT', message: `${probe.reason} (JPEG, PNG or WebP required)` };
  }
  const clean = await cleanImage(res.body, probe.mime);
  if (!clean.ok) {
    const hint = clean.failCode === 'UNSUPPORTED_FORMAT' ? ' (a complete JPEG, PNG or WebP image required)' : '';
    return { ok: false, failCode: clean.failCode, message: `${clean.message}${hint}` };
  }
  await writeFile(destPath, clean.data);
  return { ok: true, image: { path: destPath, mime: clean.mime, width: clean.width, height: clean.height } };
}
