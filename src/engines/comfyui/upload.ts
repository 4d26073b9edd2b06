import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { guardedRequest } from '../../net/guarded-http.js';
import type { EngineFailure } from '../engine.js';
import { isTransient } from '../google-http.js';
import type { JsonTarget } from '../guarded-json.js';
import { engineFailure } from '../upstream-job.js';

const UPLOAD_TIMEOUT_MS = 60_000;

/**
 * Puts an image into ComfyUI's input folder (`POST /upload/image`, multipart: `image`,
 * `overwrite`, `type`) and answers the name a `LoadImage` node takes (`subfolder/name` when
 * ComfyUI filed it in one). `overwrite` makes a retried task replace its own earlier upload
 * rather than pile up renamed copies. `what` names the picture in a failure.
 */
export async function uploadImage(
  t: JsonTarget,
  bytes: Buffer,
  name: string,
  mime: string,
  signal: AbortSignal,
  what = 'the start image',
): Promise<string | EngineFailure> {
  const boundary = `longshot-${randomBytes(12).toString('hex')}`;
  const field = (n: string, value: string): string => `--${boundary}\r\nContent-Disposition: form-data; name="${n}"\r\n\r\n${value}\r\n`;
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="${name}"\r\nContent-Type: ${mime}\r\n\r\n`, 'utf8'),
    bytes,
    Buffer.from(`\r\n${field('overwrite', 'true')}${field('type', 'input')}--${boundary}--\r\n`, 'utf8'),
  ]);
  let why = '';
  for (let attempt = 0; ; attempt++) {
    signal.throwIfAborted();
    const res = await guardedRequest(`${t.baseUrl}/upload/image`, {
      method: 'POST',
      headers: {
        ...(t.authorization ? { authorization: t.authorization } : {}),
        accept: 'application/json',
        'content-type': `multipart/form-data; boundary=${boundary}`,
      },
      body,
      timeoutMs: UPLOAD_TIMEOUT_MS,
      maxResponseBytes: 64 * 1024,
      allowPrivate: t.allowPrivate,
      requireHttps: false,
      signal,
    });
    if (!res.ok) {
      signal.throwIfAborted();
      why = res.message;
    } else if (res.status === 200) {
      let answer: { name?: unknown; subfolder?: unknown } | null = null;
      try {
        answer = JSON.parse(res.body.toString('utf8'));
      } catch {
        // not JSON: refused below
      }
      if (typeof answer?.name !== 'string' || answer.name === '')
        return engineFailure('UPSTREAM_ERROR', 'ComfyUI answered the image upload without a file name');
      return typeof answer.subfolder === 'string' && answer.subfolder !== '' ? `${answer.subfolder}/${answer.name}` : answer.name;
    } else {
      why = `HTTP ${res.status}`;
      if (!isTransient(res.status)) return engineFailure('UPSTREAM_ERROR', `uploading ${what} to ComfyUI failed: ${why}`);
    }
    if (attempt >= t.retries) return engineFailure('UPSTREAM_ERROR', `uploading ${what} to ComfyUI failed: ${why}`);
    await sleep(t.retryMs * 2 ** attempt, undefined, { signal });
  }
}
