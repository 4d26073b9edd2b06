import { withoutVideo } from '../upstream-job.js';

/** What a polled long-running operation says (Google's `Operation` with a Veo response). */
export type OperationState =
  | { kind: 'running' }
  | { kind: 'video'; uri: string }
  | { kind: 'filtered'; reasons: string[] }
  | { kind: 'error'; code: number | null; message: string };

interface OperationJson {
  name?: unknown;
  done?: unknown;
  error?: { code?: unknown; message?: unknown };
  response?: {
    generateVideoResponse?: VideoResponseJson;
  } & VideoResponseJson;
}

interface VideoResponseJson {
  generatedSamples?: Array<{ video?: { uri?: unknown } }>;
  raiMediaFilteredCount?: unknown;
  raiMediaFilteredReasons?: unknown;
}

/**
 * Reads `GET /v1beta/{operation}`: not done; done with `error`; done with a video in
 * `response.generateVideoResponse.generatedSamples[0].video.uri`; or done with no video and the
 * Responsible-AI filter's count/reasons.
 */
export function parseOperation(body: unknown): OperationState {
  const op = (body ?? {}) as OperationJson;
  if (op.done !== true) return { kind: 'running' };
  if (op.error) {
    return {
      kind: 'error',
      code: typeof op.error.code === 'number' ? op.error.code : null,
      message: typeof op.error.message === 'string' ? op.error.message : 'the operation failed',
    };
  }
  const r = op.response?.generateVideoResponse ?? op.response ?? {};
  const uri = r.generatedSamples?.find((s) => typeof s.video?.uri === 'string')?.video?.uri;
  if (typeof uri === 'string') return { kind: 'video', uri };
  return withoutVideo(r);
}

/** The operation name as the submit answered it: `models/{model}/operations/{id}`. */
export function operationName(body: unknown): string | null {
  const name = (body as { name?: unknown } | null)?.name;
  return typeof name === 'string' && /^[A-Za-z0-9._/-]+$/.test(name) && !name.includes('..') ? name : null;
}
