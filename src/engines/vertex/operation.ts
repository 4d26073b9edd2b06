import { withoutVideo } from '../upstream-job.js';

/** What `fetchPredictOperation` says about a Veo job on Vertex AI. */
export type VertexOperationState =
  | { kind: 'running' }
  | { kind: 'inline'; base64: string }
  | { kind: 'gcs'; uri: string }
  | { kind: 'filtered'; reasons: string[] }
  | { kind: 'error'; code: number | null; message: string };

interface VideoJson {
  bytesBase64Encoded?: unknown;
  gcsUri?: unknown;
}

interface OperationJson {
  done?: unknown;
  error?: { code?: unknown; message?: unknown };
  response?: {
    videos?: VideoJson[];
    raiMediaFilteredCount?: unknown;
    raiMediaFilteredReasons?: unknown;
  };
}

/**
 * Reads a fetchPredictOperation answer: not done; done with `error`; done with
 * `response.videos[0]` inline (`bytesBase64Encoded`) or in Cloud Storage (`gcsUri`, when the
 * submit named a `storageUri`); or done without a video and the Responsible-AI filter's
 * count/reasons.
 */
export function parseVertexOperation(body: unknown): VertexOperationState {
  const op = (body ?? {}) as OperationJson;
  if (op.done !== true) return { kind: 'running' };
  if (op.error) {
    return {
      kind: 'error',
      code: typeof op.error.code === 'number' ? op.error.code : null,
      message: typeof op.error.message === 'string' ? op.error.message : 'the operation failed',
    };
  }
  const r = op.response ?? {};
  for (const v of Array.isArray(r.videos) ? r.videos : []) {
    if (typeof v?.bytesBase64Encoded === 'string' && v.bytesBase64Encoded.length > 0) return { kind: 'inline', base64: v.bytesBase64Encoded };
    if (typeof v?.gcsUri === 'string' && v.gcsUri.startsWith('gs://')) return { kind: 'gcs', uri: v.gcsUri };
  }
  return withoutVideo(r);
}

/**
 * The operation name as predictLongRunning answered it:
 * `projects/{p}/locations/{l}/publishers/google/models/{m}/operations/{id}`. Anything else is
 * refused, so a hostile or broken answer cannot steer later requests to another path.
 */
export function vertexOperationName(body: unknown): string | null {
  const name = (body as { name?: unknown } | null)?.name;
  return typeof name === 'string' &&
    /^projects\/[^/]+\/locations\/[^/]+\/publishers\/google\/models\/[^/]+\/operations\/[A-Za-z0-9_.-]+$/.test(name) &&
    !name.includes('..')
    ? name
    : null;
}

/** `gs://bucket/path/to/object` → the JSON API media path, or null for anything else. */
export function gcsMediaPath(uri: string): string | null {
  const m = /^gs:\/\/([a-z0-9][a-z0-9._-]{1,220})\/(.+)$/.exec(uri);
  if (!m) return null;
  return `/storage/v1/b/${encodeURIComponent(m[1]!)}/o/${encodeURIComponent(m[2]!)}?alt=media`;
}
